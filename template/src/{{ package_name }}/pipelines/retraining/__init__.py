"""Retraining: build the training set by policy, then train, evaluate and explain a challenger."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
