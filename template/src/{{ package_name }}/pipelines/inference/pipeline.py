"""Inference pipeline (`kedro run --pipelines inference`, `make score`)."""

from kedro.pipeline import Node, Pipeline

from .nodes import score_batch


def create_pipeline(**kwargs) -> Pipeline:
    """Return the pipeline scoring `scoring_batch` with `champion_model` into batch_predictions."""
    return Pipeline(
        [
            Node(
                score_batch,
                inputs=[
                    "scoring_batch",
                    "champion_model",
                    "params:features",
                    "params:evaluation",
                    "params:inference",
                ],
                outputs="batch_predictions",
                name="score_batch",
            ),
        ]
    )
