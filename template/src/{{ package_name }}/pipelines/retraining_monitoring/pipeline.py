"""The newest labelled batch, which `pipeline_registry.py` feeds to the monitoring pipeline.

`kedro retrain` runs the whole (monitoring included) with the champion's model, training set and
metrics (load versions), so the verdict says whether the newest batch still suits the model in
service.
"""

from kedro.pipeline import Node, Pipeline

from ...core.partitions import newest_partition


def create_pipeline(**kwargs) -> Pipeline:
    """Return the node that selects the newest labelled batch (`newest_labelled_batch`)."""
    return Pipeline(
        [
            Node(
                newest_partition,
                inputs="labelled_batches",
                outputs="newest_labelled_batch",
                name="select_newest_labelled_batch",
            )
        ]
    )
