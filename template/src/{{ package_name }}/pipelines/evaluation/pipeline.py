"""Evaluation pipeline."""

from kedro.pipeline import Node, Pipeline

from .nodes import evaluate_model, plot_calibration_curve, plot_roc_curve, predict_test_set


def create_pipeline(**kwargs) -> Pipeline:
    """Return the evaluation pipeline: predictions, metrics and plots on `test_set`."""
    return Pipeline(
        [
            Node(
                predict_test_set,
                inputs=["model", "test_set", "params:features"],
                outputs="test_predictions",
                name="predict_test_set",
            ),
            Node(
                evaluate_model,
                inputs=["test_predictions", "params:evaluation"],
                outputs="evaluation_metrics",
                name="evaluate_model",
            ),
            Node(
                plot_roc_curve,
                inputs="test_predictions",
                outputs="roc_curve_plot",
                name="plot_roc_curve",
            ),
            Node(
                plot_calibration_curve,
                inputs=["test_predictions", "params:evaluation"],
                outputs="calibration_plot",
                name="plot_calibration_curve",
            ),
        ]
    )
