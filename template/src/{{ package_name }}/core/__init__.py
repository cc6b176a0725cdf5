"""The project's Kedro-free core: plain functions and typed values the pipelines wire together.

Nothing under `core/` imports Kedro, and no pipeline imports another pipeline: a concept lives in
one module here, and each `pipelines/<name>/` folder holds only its nodes and its wiring.
"""
