"""Print where `make demo` left the model, metrics and plots, with the headline metrics."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def latest(project: Path, pattern: str) -> Path | None:
    """Return the newest versioned file matching `pattern` under the project's data folder."""
    matches = sorted((project / "data").glob(pattern))
    return matches[-1] if matches else None


def main() -> int:
    """Print the summary; exit 1 if the run left no model or metrics behind."""
    project = Path(sys.argv[1]).resolve()
    outputs = {
        "model": latest(project, "06_models/model.pkl/*/model.pkl"),
        "metrics": latest(
            project, "08_reporting/evaluation_metrics.json/*/evaluation_metrics.json"
        ),
        "ROC plot": latest(project, "08_reporting/roc_curve.png/*/roc_curve.png"),
        "calibration plot": latest(project, "08_reporting/calibration_curve.png/*/*.png"),
    }
    optional = {
        "SHAP importances": latest(project, "08_reporting/explainability/shap_importance.json/*/*"),
        "SHAP beeswarm": latest(project, "08_reporting/explainability/shap_beeswarm.png/*/*"),
        "bias metrics": latest(project, "08_reporting/explainability/bias_metrics.json/*/*"),
        "monitoring report": latest(
            project, "08_reporting/monitoring/monitoring_report.html/*/monitoring_report.html"
        ),
    }
    print(f"\nDemo project: {project}")
    for label, path in {**outputs, **optional}.items():
        if path is not None:
            print(f"  {label:<17} {path.relative_to(project)}")
    if outputs["metrics"] is None or outputs["model"] is None:
        print("the run left no model or metrics behind", file=sys.stderr)
        return 1
    metrics = json.loads(outputs["metrics"].read_text())
    print(
        "  " + ", ".join(f"{k}={metrics[k]:.4f}" for k in ("roc_auc", "pr_auc", "f1", "log_loss"))
    )
    report = latest(project, "08_reporting/monitoring/monitoring_report.json/*/*.json")
    if report is None:
        print("the monitoring job left no report behind", file=sys.stderr)
        return 1
    verdict = json.loads(report.read_text())["level"]
    print(f"  monitoring verdict on the current batch: {verdict} (the sample drifts on purpose)")
    return print_retrain(project)


def print_retrain(project: Path) -> int:
    """Print what `kedro retrain` decided; return 1 if it left no outcome behind."""
    path = project / "retrain-outcome.json"
    if not path.exists():
        print("the retrain left no outcome behind (retrain-outcome.json)", file=sys.stderr)
        return 1
    outcome = json.loads(path.read_text())
    print(f"  retrain: {outcome['action']} ({outcome['trigger'] or 'no trigger'})")
    decision = outcome["decision"]
    if decision is None:
        print(f"    {outcome['reason']}")
        return 0
    champion = "none" if decision["champion"] is None else f"{decision['champion']:.4f}"
    print(
        f"    promotion gate on {outcome['holdout']['rows']} holdout rows: "
        f"{decision['primary_metric']} champion v{decision['champion_version']} {champion}, "
        f"challenger v{decision['challenger_version']} {decision['challenger']:.4f}"
    )
    for guard in decision["guards"]:
        # A guard the champion lacks is skipped (None), and said so by the gate's reason.
        guard_champion = "none" if guard["champion"] is None else f"{guard['champion']:.4f}"
        print(
            f"    guard {guard['metric']}: champion {guard_champion}, challenger "
            f"{guard['challenger']:.4f}, tolerance {guard['tolerance']} -> "
            f"{'ok' if guard['passed'] else 'FAILED'}"
        )
    verdict = "PROMOTED" if decision["promote"] else "kept the champion"
    print(f"    {verdict}: {decision['reason']}")
    print(f"    champion now: v{outcome['champion_version_after']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
