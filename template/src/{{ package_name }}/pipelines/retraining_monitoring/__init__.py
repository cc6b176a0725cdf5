"""Monitoring of the newest labelled batch: the check `kedro retrain` decides on."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
