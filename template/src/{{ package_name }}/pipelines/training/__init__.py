"""Model training: a preprocessing + gradient boosting scikit-learn pipeline."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
