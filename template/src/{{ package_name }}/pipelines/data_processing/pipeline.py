"""Data processing: validate the reference batch, prepare its features, split it."""

from kedro.pipeline import Node, Pipeline

from ...core.features import prepare_features, validator_for
from .nodes import split_data


def create_pipeline(**kwargs) -> Pipeline:
    """Return the data processing pipeline."""
    return Pipeline(
        [
            Node(
                validator_for("customers", require_target=True),
                inputs=["customers", "params:features"],
                outputs="validated_customers",
                name="validate_reference_schema",
            ),
            Node(
                prepare_features,
                inputs=["validated_customers", "params:features"],
                outputs="model_input",
                name="prepare_reference_features",
            ),
            Node(
                split_data,
                inputs=["model_input", "params:features", "params:data_processing"],
                outputs=["train_set", "test_set"],
                name="split_data",
            ),
        ]
    )
