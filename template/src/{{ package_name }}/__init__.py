"""Kedro project package: pipelines, hooks and the SageMaker entrypoint."""

__version__ = "0.1.0"
