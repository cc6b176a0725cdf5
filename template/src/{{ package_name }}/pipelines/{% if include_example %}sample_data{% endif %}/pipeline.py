"""Pipeline that regenerates the bundled raw data (`kedro run --pipeline sample_data`)."""

from kedro.pipeline import Node, Pipeline

from .nodes import generate_current_batch, generate_reference_batch


def create_pipeline(**kwargs) -> Pipeline:
    """Return the pipeline writing `customers` and `customers_current` from parameters."""
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
        ]
    )
