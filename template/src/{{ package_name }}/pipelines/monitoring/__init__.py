"""Monitoring: data validation, data / model / concept drift, an HTML report and alerts."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
