"""Pipeline that regenerates the bundled raw data (`kedro run --pipelines sample_data`)."""

from kedro.pipeline import Node, Pipeline

from .nodes import (
    generate_current_batch,
    generate_labelled_batches,
    generate_reference_batch,
    generate_scoring_batch,
)


def create_pipeline(**kwargs) -> Pipeline:
    """Return the pipeline writing every bundled raw dataset from parameters."""
    return Pipeline(
        [
            Node(
                generate_reference_batch,
                inputs="params:sample_data",
                outputs="customers",
                name="generate_reference_batch",
            ),
            Node(
                generate_current_batch,
                inputs="params:sample_data",
                outputs="customers_current",
                name="generate_current_batch",
            ),
            Node(
                generate_labelled_batches,
                inputs="params:sample_data",
                outputs="labelled_batches",
                name="generate_labelled_batches",
            ),
            Node(
                generate_scoring_batch,
                inputs="params:sample_data",
                outputs="scoring_batch",
                name="generate_scoring_batch",
            ),
        ]
    )
