"""Training pipeline."""

from kedro.pipeline import Node, Pipeline

from .nodes import train_model


def create_pipeline(**kwargs) -> Pipeline:
    """Return the training pipeline: `train_set` in, versioned `model` out."""
    return Pipeline(
        [
            Node(
                train_model,
                inputs=["train_set", "params:features", "params:training"],
                outputs="model",
                name="train_model",
            ),
        ]
    )
