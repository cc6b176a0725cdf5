"""Explainability pipeline: SHAP attributions and group-fairness metrics for every trained model."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
