"""Data processing: validate both raw batches, prepare features, split the reference batch."""

from functools import partial, update_wrapper

from kedro.pipeline import Node, Pipeline

from .nodes import prepare_features, split_data, validate_schema


def _validator_for(dataset_name: str, *, require_target: bool):
    """Return validate_schema bound to a dataset name, so its errors say which input failed."""
    bound = partial(validate_schema, dataset_name=dataset_name, require_target=require_target)
    return update_wrapper(bound, validate_schema)


def create_pipeline(**kwargs) -> Pipeline:
    """Return the data processing pipeline."""
    return Pipeline(
        [
            Node(
                _validator_for("customers", require_target=True),
                inputs=["customers", "params:features"],
                outputs="validated_customers",
                name="validate_reference_schema",
            ),
            Node(
                _validator_for("customers_current", require_target=False),
                inputs=["customers_current", "params:features"],
                outputs="validated_customers_current",
                name="validate_current_schema",
            ),
            Node(
                prepare_features,
                inputs=["validated_customers", "params:features"],
                outputs="model_input",
                name="prepare_reference_features",
            ),
            Node(
                prepare_features,
                inputs=["validated_customers_current", "params:features"],
                outputs="current_set",
                name="prepare_current_features",
            ),
            Node(
                split_data,
                inputs=["model_input", "params:features", "params:data_processing"],
                outputs=["train_set", "test_set"],
                name="split_data",
            ),
        ]
    )
