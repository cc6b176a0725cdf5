"""Seeded synthetic churn data: the reference batch and a drifted current batch."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
