"""Explainability pipeline: SHAP attributions, plots and group-fairness metrics of the model."""

from kedro.pipeline import Node, Pipeline

from .nodes import (
    compute_bias_metrics,
    explain_model,
    plot_bias_metrics,
    plot_shap_bar,
    plot_shap_beeswarm,
    plot_shap_dependence,
    summarise_attribution,
    write_explainability_report,
)


def create_pipeline(**kwargs) -> Pipeline:
    """Return the explainability pipeline (inputs: model, test_set, test_predictions, params)."""
    return Pipeline(
        [
            Node(
                explain_model,
                inputs=["model", "test_set", "params:features", "params:explainability"],
                outputs="shap_attribution",
                name="explain_model",
            ),
            Node(
                summarise_attribution,
                inputs="shap_attribution",
                outputs="shap_importance",
                name="summarise_attribution",
            ),
            Node(
                plot_shap_beeswarm,
                inputs=["shap_attribution", "params:explainability"],
                outputs="shap_beeswarm_plot",
                name="plot_shap_beeswarm",
            ),
            Node(
                plot_shap_bar,
                inputs=["shap_attribution", "params:explainability"],
                outputs="shap_bar_plot",
                name="plot_shap_bar",
            ),
            Node(
                plot_shap_dependence,
                inputs=["shap_attribution", "params:explainability"],
                outputs="shap_dependence_plots",
                name="plot_shap_dependence",
            ),
            Node(
                compute_bias_metrics,
                inputs=[
                    "test_predictions",
                    "test_set",
                    "params:features",
                    "params:explainability",
                    "params:evaluation",
                ],
                outputs="bias_metrics",
                name="compute_bias_metrics",
            ),
            Node(
                plot_bias_metrics,
                inputs="bias_metrics",
                outputs="bias_plot",
                name="plot_bias_metrics",
            ),
            Node(
                write_explainability_report,
                inputs=["shap_attribution", "shap_importance", "bias_metrics"],
                outputs="explainability_summary",
                name="write_explainability_report",
            ),
        ]
    )
