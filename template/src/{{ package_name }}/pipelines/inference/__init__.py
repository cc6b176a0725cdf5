"""Batch scoring: score a batch with the registry's champion and write versioned predictions."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
