"""Schema validation, feature preparation and the train/test split."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
