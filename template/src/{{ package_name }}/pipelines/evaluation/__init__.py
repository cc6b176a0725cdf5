"""Model evaluation: metrics JSON, ROC and calibration plots."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
