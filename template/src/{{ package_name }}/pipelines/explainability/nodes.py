"""Nodes of the explainability pipeline: SHAP attributions, their plots, and group-fairness metrics.

Nodes never read or write files: the catalog saves the figures, JSON and Markdown they return.
shap and matplotlib are imported inside the functions that draw, so importing this module is cheap.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import numpy as np
import pandas as pd

from ...core.attribution import Attribution, explain, sample_rows
from ...core.bias import TOO_SMALL, fairness_report
from ...core.features import feature_spec
from ...core.parameters import ExplainabilitySettings, section

logger = logging.getLogger(__name__)

_PLOT_METRICS = {
    "selection_rate": "Selection rate",
    "true_positive_rate": "TPR",
    "false_positive_rate": "FPR",
    "precision": "Precision",
}


# ----- SHAP ---------------------------------------------------------------------------------------


def explain_model(
    model: Any,
    test_set: pd.DataFrame,
    features: dict[str, Any],
    params: dict[str, Any],
) -> Attribution:
    """Return SHAP attributions of the model on a seeded, target-stratified test-set sample."""
    target = feature_spec(features).target
    settings = section(ExplainabilitySettings, params, "explainability")
    sample, used_all_rows = sample_rows(
        test_set,
        sample_size=settings.sample_size,
        random_state=settings.random_state,
        stratify_by=target if target in test_set.columns else None,
    )
    attribution = explain(
        model,
        sample,
        explainer=settings.explainer,
        background_size=settings.background_size,
        agnostic_max_rows=settings.agnostic_max_rows,
        additivity_tolerance=settings.additivity_tolerance,
        random_state=settings.random_state,
    )
    attribution.rows_available = len(test_set)
    attribution.used_all_rows = used_all_rows
    logger.info(
        "Explained %d of %d rows with the SHAP %s explainer on %s (output: %s).",
        len(attribution.data),
        len(test_set),
        attribution.explainer,
        attribution.model_type,
        attribution.output,
    )
    return attribution


def summarise_attribution(attribution: Attribution) -> dict[str, float]:
    """Return mean |SHAP| per feature, largest first: the baseline for concept-drift monitoring."""
    return attribution.mean_abs()


def plot_shap_beeswarm(attribution: Attribution, params: dict[str, Any]) -> Any:
    """Return a beeswarm figure: every sampled row's SHAP value per feature, coloured by value."""
    import matplotlib.pyplot as plt
    import shap

    plt.figure()
    shap.plots.beeswarm(
        attribution.to_explanation(),
        max_display=section(ExplainabilitySettings, params, "explainability").max_display,
        show=False,
    )
    return _finish(plt.gcf(), f"SHAP values ({attribution.output}), {len(attribution.data)} rows")


def plot_shap_bar(attribution: Attribution, params: dict[str, Any]) -> Any:
    """Return a bar figure of mean |SHAP| per feature."""
    import matplotlib.pyplot as plt
    import shap

    plt.figure()
    shap.plots.bar(
        attribution.to_explanation(),
        max_display=section(ExplainabilitySettings, params, "explainability").max_display,
        show=False,
    )
    return _finish(plt.gcf(), f"Mean |SHAP| ({attribution.output})")


def plot_shap_dependence(attribution: Attribution, params: dict[str, Any]) -> dict[str, Any]:
    """Return one dependence (scatter) figure per top feature, keyed '<rank>_<feature>.png'."""
    import matplotlib.pyplot as plt
    import shap

    explanation = attribution.to_explanation()
    top_k = section(ExplainabilitySettings, params, "explainability").dependence_top_k
    top = list(attribution.mean_abs())[:top_k]
    figures = {}
    for rank, feature in enumerate(top, start=1):
        figure, axes = plt.subplots(figsize=(7, 5))
        # Colouring by the strongest interacting feature shows where the effect depends on another.
        shap.plots.scatter(explanation[:, feature], color=explanation, ax=axes, show=False)
        _label_categories(axes, attribution, feature)
        axes.set_title(f"Dependence of the model output on {feature}")
        safe_name = re.sub(r"[^A-Za-z0-9_.-]+", "_", feature)
        figures[f"{rank:02d}_{safe_name}.png"] = _finish(figure)
    return figures


def _label_categories(axes: Any, attribution: Attribution, feature: str) -> None:
    """Replace ordinal codes on the x axis with the category labels they stand for."""
    if feature not in attribution.raw_data.columns:
        return
    raw = attribution.raw_data[feature]
    if pd.api.types.is_numeric_dtype(raw):
        return
    pairs = pd.DataFrame({"code": attribution.data[feature].to_numpy(), "label": raw.to_numpy()})
    pairs = pairs.dropna(subset=["code"]).drop_duplicates("code").sort_values("code")
    axes.set_xticks(pairs["code"].to_numpy(dtype=float))
    axes.set_xticklabels(pairs["label"].fillna("<missing>").astype(str), rotation=20)


def _finish(figure: Any, title: str | None = None) -> Any:
    """Return the figure laid out and detached from pyplot, so figures do not pile up in memory."""
    import matplotlib.pyplot as plt

    if title:
        figure.suptitle(title, fontsize=11)
    figure.tight_layout()
    plt.close(figure)  # savefig still works on a closed figure
    return figure


# ----- Bias ---------------------------------------------------------------------------------------


def compute_bias_metrics(
    test_predictions: pd.DataFrame,
    test_set: pd.DataFrame,
    features: dict[str, Any],
    params: dict[str, Any],
    evaluation: dict[str, Any],
) -> dict[str, Any]:
    """Return per-group and across-group fairness metrics of the test-set predictions.

    A customer counts as predicted positive at or above ``evaluation.threshold``, the one
    decision threshold of the project (evaluation, scoring and the promotion gate use it too).

    The scores come from the evaluation pipeline's ``test_predictions`` (columns ``id``,
    ``y_true``, ``y_score``), so the model is not run twice over a large test set; the groups
    come from the test set, row for row.
    """
    spec = feature_spec(features)
    attribute = spec.sensitive_attribute
    if not attribute:
        logger.info("No features.sensitive_attribute configured: bias metrics skipped.")
        return {"sensitive_attribute": None, "skipped": "no sensitive attribute configured"}
    if attribute not in test_set.columns:
        raise KeyError(
            f"Sensitive attribute '{attribute}' (features.sensitive_attribute) is not a column "
            f"of the test set. Available columns: {sorted(map(str, test_set.columns))}"
        )
    _check_rows_line_up(test_predictions, test_set, spec.id_column)
    # A leftover explainability.bias.decision_threshold is refused, naming evaluation.threshold.
    bias = section(ExplainabilitySettings, params, "explainability").bias
    threshold = float(evaluation["threshold"])
    y_pred = (test_predictions["y_score"].to_numpy() >= threshold).astype(int)
    report = fairness_report(
        test_predictions["y_true"].to_numpy(),
        y_pred,
        test_set[attribute],
        sensitive_attribute=attribute,
        min_group_size=bias.min_group_size,
        warn_thresholds=bias.warn_thresholds,
    )
    report["decision_threshold"] = threshold
    return report


def _check_rows_line_up(predictions: pd.DataFrame, test_set: pd.DataFrame, id_column: str) -> None:
    """Raise ValueError unless the predictions are the test set's rows, in the same order."""
    missing = [column for column in ("y_true", "y_score") if column not in predictions.columns]
    if missing:
        raise KeyError(
            f"test_predictions lacks column(s) {missing}; it has {list(predictions.columns)}"
        )
    same_rows = len(predictions) == len(test_set)
    if same_rows and "id" in predictions.columns and id_column in test_set.columns:
        same_rows = bool(
            np.array_equal(predictions["id"].to_numpy(), test_set[id_column].to_numpy())
        )
    if not same_rows:
        raise ValueError(
            f"test_predictions ({len(predictions)} rows) and test_set ({len(test_set)} rows) do "
            "not hold the same rows in the same order: were they loaded from different runs? "
            "Run the evaluation pipeline with this test set first."
        )


def plot_bias_metrics(bias_metrics: dict[str, Any]) -> Any:
    """Return a grouped bar figure of selection rate, TPR, FPR and precision per group."""
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 4.5))
    groups = bias_metrics.get("groups") or {}
    if not groups:
        axes.axis("off")
        axes.text(0.5, 0.5, bias_metrics.get("skipped", "no groups"), ha="center", va="center")
        return _finish(figure, "Group fairness")

    width = 0.8 / len(groups)
    positions = np.arange(len(_PLOT_METRICS))
    for index, (group, metrics) in enumerate(groups.items()):
        small = metrics["status"] == TOO_SMALL
        heights = [metrics[key] if metrics[key] is not None else 0.0 for key in _PLOT_METRICS]
        label = f"{group} (n={metrics['count']}{', ' + TOO_SMALL if small else ''})"
        bars = axes.bar(
            positions + (index - (len(groups) - 1) / 2) * width,
            heights,
            width,
            label=label,
            hatch="//" if small else None,
            alpha=0.45 if small else 0.9,
        )
        # An undefined rate (no positives in the group) is drawn as an empty bar marked n/a.
        values = [_fmt(metrics[key]) for key in _PLOT_METRICS]
        axes.bar_label(bars, labels=values, fontsize=7, padding=2)
    axes.set_xticks(positions, list(_PLOT_METRICS.values()))
    axes.set_ylim(0, 1.05)
    axes.set_ylabel("Rate")
    axes.legend(title=bias_metrics["sensitive_attribute"], fontsize=8)
    differences = bias_metrics["differences"]
    axes.set_title(
        f"Demographic-parity difference {_fmt(differences['demographic_parity_difference'])}, "
        f"equalized-odds difference {_fmt(differences['equalized_odds_difference'])}",
        fontsize=10,
        color="firebrick" if bias_metrics["warnings"] else "black",
    )
    return _finish(figure, f"Group fairness by {bias_metrics['sensitive_attribute']}")


# ----- Summary ------------------------------------------------------------------------------------


def write_explainability_report(
    attribution: Attribution,
    shap_importance: dict[str, float],
    bias_metrics: dict[str, Any],
) -> str:
    """Return a short Markdown report of the attributions and the bias check for reviewers."""
    rows_note = (
        f"all {attribution.rows_available} rows (the configured sample size is not smaller "
        "than the data)"
        if attribution.used_all_rows
        else f"a seeded sample of {len(attribution.data)} of {attribution.rows_available} rows, "
        "stratified by the target"
    )
    lines = [
        "# Model explainability report",
        "",
        f"- Model: `{attribution.model_type}`, explained with the SHAP **{attribution.explainer}** "
        f"explainer on {rows_note}.",
        f"- SHAP values are in units of the model's {attribution.output}; they add up to it "
        f"within {attribution.additivity_error:.2g} on every explained row.",
        "- Plots: `shap_beeswarm_plot`, `shap_bar_plot`, `shap_dependence_plots`, `bias_plot`.",
        "",
        "## Features by mean |SHAP|",
        "",
        "| rank | feature | mean abs SHAP |",
        "| ---: | --- | ---: |",
    ]
    lines += [
        f"| {rank} | {name} | {value:.4f} |"
        for rank, (name, value) in enumerate(shap_importance.items(), start=1)
    ]
    lines += ["", "## Group fairness", ""]
    if bias_metrics.get("skipped"):
        lines.append(f"Skipped: {bias_metrics['skipped']}.")
        return "\n".join(lines) + "\n"

    lines += [
        f"Sensitive attribute `{bias_metrics['sensitive_attribute']}`, decision threshold "
        f"{bias_metrics['decision_threshold']}, {bias_metrics['n_rows']} test rows.",
        "",
        "| group | n | status | selection rate | TPR | FPR | precision |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    lines += [
        f"| {group} | {m['count']} | {m['status']} | {_fmt(m['selection_rate'])} | "
        f"{_fmt(m['true_positive_rate'])} | {_fmt(m['false_positive_rate'])} | "
        f"{_fmt(m['precision'])} |"
        for group, m in bias_metrics["groups"].items()
    ]
    differences = bias_metrics["differences"]
    lines += [
        "",
        f"- Demographic-parity difference: {_fmt(differences['demographic_parity_difference'])}"
        f" (ratio {_fmt(differences['demographic_parity_ratio'])})",
        f"- Equalized-odds difference: {_fmt(differences['equalized_odds_difference'])}",
        "",
    ]
    if bias_metrics["warnings"]:
        lines += ["**Warnings**", ""] + [f"- {warning}" for warning in bias_metrics["warnings"]]
    else:
        lines.append("No difference is above its warning threshold.")
    lines += [""] + [f"- Note: {note}" for note in bias_metrics["notes"]]
    return "\n".join(lines) + "\n"


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
