"""The monitoring pipeline, unchanged, pointed at the newest labelled batch.

`kedro retrain` runs it with the champion's model, training set and metrics (load versions),
so the verdict says whether the newest batch still suits the model in service.
"""

from kedro.pipeline import Node, Pipeline, pipeline

from ..monitoring import create_pipeline as monitoring
from ..retraining.nodes import newest_partition


def create_pipeline(**kwargs) -> Pipeline:
    """Return monitoring with its batch input replaced by the newest labelled batch."""
    return Pipeline(
        [
            Node(
                newest_partition,
                inputs="labelled_batches",
                outputs="newest_labelled_batch",
                name="select_newest_labelled_batch",
            )
        ]
    ) + pipeline(monitoring(), inputs={"customers_current": "newest_labelled_batch"})
