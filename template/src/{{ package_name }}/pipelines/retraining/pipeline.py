"""Retraining pipeline: the training set by policy (`retraining_data`).

`pipeline_registry.py` appends the default training run (data processing, training, evaluation,
explainability) with its raw input `customers` replaced by `retraining_data`, so a challenger is
made exactly the way `kedro run` makes a model, and no pipeline imports another.
"""

from kedro.pipeline import Node, Pipeline

from .nodes import build_training_data


def create_pipeline(**kwargs) -> Pipeline:
    """Return the node that builds the challenger's raw training rows by policy."""
    return Pipeline(
        [
            Node(
                build_training_data,
                inputs=[
                    "customers",
                    "labelled_batches",
                    "params:retraining.training_set",
                    "params:features",
                ],
                outputs="retraining_data",
                name="build_training_data",
            ),
        ]
    )
