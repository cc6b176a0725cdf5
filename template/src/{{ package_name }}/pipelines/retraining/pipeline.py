"""Retraining pipeline: the default training run, fed by the training-set policy.

It reuses the data processing, training, evaluation and explainability pipelines unchanged,
with their raw input `customers` replaced by the policy's rows (`retraining_data`), so a
challenger is made exactly the way `kedro run` makes a model.
"""

from kedro.pipeline import Node, Pipeline, pipeline

from ..data_processing import create_pipeline as data_processing
from ..evaluation import create_pipeline as evaluation
from ..explainability import create_pipeline as explainability
from ..training import create_pipeline as training
from .nodes import build_training_data


def create_pipeline(**kwargs) -> Pipeline:
    """Return the retraining pipeline: training set by policy, then a full training run."""
    training_run = data_processing() + training() + evaluation() + explainability()
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
    ) + pipeline(training_run, inputs={"customers": "retraining_data"})
