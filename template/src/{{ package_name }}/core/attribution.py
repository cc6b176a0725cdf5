"""SHAP attributions for a fitted model on a bounded, seeded sample of rows.

The model is usually an sklearn ``Pipeline`` ending in a classifier: we explain the last step on
``model[:-1].transform(X)`` so that attributions are per raw feature (the encoder keeps one column
per feature). Any other estimator is explained on the columns it was fitted on.

Explainer choice (``explainer="auto"``):

1. ``tree``: ``shap.TreeExplainer`` (exact, fast) for HistGradientBoosting, random forests, extra
   trees, gradient boosting, single trees, XGBoost, LightGBM and CatBoost.
2. ``linear``: ``shap.LinearExplainer`` for linear models (``coef_`` and ``intercept_``).
3. ``permutation``: ``shap.PermutationExplainer`` over a small background sample, for anything
   else that has ``decision_function``, ``predict_proba`` or ``predict``. It is model-agnostic but
   costs many model calls per row, so it explains at most ``agnostic_max_rows`` rows.

Every result is checked for local accuracy (SHAP values plus the base value must add up to the
model's own output). A tree model whose splits SHAP cannot read (for example HistGradientBoosting
with native ``categorical_features``) fails that check; ``auto`` then falls back to the
permutation explainer and logs why, instead of publishing wrong attributions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

EXPLAINERS = ("auto", "tree", "linear", "permutation")

# Tree classifiers whose TreeExplainer output is a probability, not a margin (log-odds).
_PROBABILITY_TREE_CLASSIFIERS = (
    "RandomForestClassifier",
    "ExtraTreesClassifier",
    "DecisionTreeClassifier",
    "ExtraTreeClassifier",
)
_TREE_LIBRARIES = ("xgboost", "lightgbm", "catboost")


class UnsupportedModelError(TypeError):
    """Raised when no SHAP explainer can explain the given model."""


@dataclass
class Attribution:
    """SHAP values of one model output for a sample of rows, in the model's feature space."""

    values: np.ndarray  # (n_rows, n_features)
    base_values: np.ndarray  # (n_rows,): the explained output when no feature is known
    data: pd.DataFrame  # model-space features of the explained rows (encoded categoricals)
    raw_data: pd.DataFrame  # the same rows before preprocessing (readable category labels)
    explainer: str  # "tree" | "linear" | "permutation"
    model_type: str  # class name of the explained estimator
    output: str  # what the values add up to, e.g. "decision_function (log-odds)"
    additivity_error: float  # max |sum(values) + base - model output| over the rows
    rows_available: int | None = None  # rows of the data the sample was drawn from
    used_all_rows: bool = False  # True when the sample size was not smaller than the data

    @property
    def feature_names(self) -> list[str]:
        """Return the explained feature names, in model column order."""
        return list(self.data.columns)

    def mean_abs(self) -> dict[str, float]:
        """Return mean |SHAP| per feature, largest first."""
        means = np.abs(self.values).mean(axis=0)
        order = np.argsort(-means, kind="stable")
        return {self.feature_names[i]: float(means[i]) for i in order}

    def to_explanation(self) -> Any:
        """Return a ``shap.Explanation`` for the SHAP plotting functions."""
        import shap

        return shap.Explanation(
            values=self.values,
            base_values=self.base_values,
            data=self.data.to_numpy(dtype=float, na_value=np.nan),
            feature_names=self.feature_names,
        )


# ----- Sampling -----------------------------------------------------------------------------------


def sample_rows(
    frame: pd.DataFrame,
    sample_size: int,
    random_state: int,
    stratify_by: str | None = None,
) -> tuple[pd.DataFrame, bool]:
    """Return a seeded sample of ``sample_size`` rows and whether all rows were used.

    With ``stratify_by`` each class keeps its share of rows (largest-remainder rounding, at least
    one row for every class present). A sample larger than the data uses every row and says so.
    """
    if int(sample_size) < 1:
        raise ValueError(f"sample_size must be a positive number of rows, got {sample_size!r}")
    n_rows = len(frame)
    if n_rows == 0:
        raise ValueError("Cannot explain an empty data set: it has no rows.")
    if sample_size >= n_rows:
        if sample_size > n_rows:
            # Information, not a warning: the bundled sample is smaller than the default sample.
            logger.info(
                "Explainability sample_size=%d is larger than the %d rows available: "
                "explaining all %d rows instead.",
                sample_size,
                n_rows,
                n_rows,
            )
        return frame, True

    rng = np.random.default_rng(random_state)
    if stratify_by is None:
        positions = rng.choice(n_rows, size=sample_size, replace=False)
    else:
        if stratify_by not in frame.columns:
            raise KeyError(
                f"Cannot stratify the explanation sample by '{stratify_by}': no such column. "
                f"Available columns: {sorted(map(str, frame.columns))}"
            )
        codes, _ = pd.factorize(frame[stratify_by], use_na_sentinel=False)
        counts = np.bincount(codes)
        quotas = _proportional_quotas(counts, sample_size)
        positions = np.concatenate(
            [
                rng.choice(np.flatnonzero(codes == code), size=quota, replace=False)
                for code, quota in enumerate(quotas)
                if quota > 0
            ]
        )
    return frame.iloc[np.sort(positions)], False


def _proportional_quotas(counts: np.ndarray, total: int) -> np.ndarray:
    """Return per-class row counts that sum to ``total`` and follow the class shares."""
    exact = counts * total / counts.sum()
    quotas = np.minimum(np.floor(exact).astype(int), counts)
    # Rare classes would round to zero rows and vanish from the plots: keep one row each.
    quotas = np.where((quotas == 0) & (counts > 0), 1, quotas)
    while quotas.sum() > total:
        quotas[np.argmax(quotas)] -= 1
    remainder = exact - quotas
    for code in np.argsort(-remainder, kind="stable"):
        if quotas.sum() >= total:
            break
        if quotas[code] < counts[code]:
            quotas[code] += 1
    return quotas


# ----- Model plumbing -----------------------------------------------------------------------------


def fitted_columns(model: Any, frame: pd.DataFrame) -> pd.DataFrame:
    """Return the columns of ``frame`` the model was fitted on (all of them if it does not say)."""
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        return frame
    missing = [name for name in names if name not in frame.columns]
    if missing:
        raise KeyError(
            f"The model was fitted on columns that the data lacks: {missing}. "
            f"Available columns: {sorted(map(str, frame.columns))}"
        )
    return frame[list(names)]


def split_model(model: Any) -> tuple[Callable[[pd.DataFrame], pd.DataFrame], Any]:
    """Return (preprocessing function, final estimator) of a Pipeline or a bare estimator."""
    steps = getattr(model, "steps", None)
    if steps and len(steps) > 1:
        return lambda frame: model[:-1].transform(fitted_columns(model, frame)), model[-1]
    estimator = steps[0][1] if steps else model
    return lambda frame: fitted_columns(estimator, frame), estimator


def model_space_features(model: Any, features: pd.DataFrame) -> pd.DataFrame:
    """Return the frame the final estimator sees, columns named after the raw features."""
    transform, _ = split_model(model)
    transformed = transform(features)
    if not isinstance(transformed, pd.DataFrame):
        # Preprocessing without set_output(transform="pandas"): recover its column names.
        names = model[:-1].get_feature_names_out() if hasattr(model, "steps") else None
        transformed = pd.DataFrame(np.asarray(transformed), index=features.index, columns=names)
    return transformed.rename(columns=lambda name: _raw_feature_name(str(name), features.columns))


def _raw_feature_name(name: str, raw_columns: pd.Index) -> str:
    """Return 'age' for a ColumnTransformer name like 'num__age' when 'age' is a raw column."""
    if name in raw_columns or "__" not in name:
        return name
    suffix = name.split("__", 1)[1]
    return suffix if suffix in raw_columns else name


def _positive_class_index(estimator: Any, n_outputs: int) -> int:
    """Return the output column of the explained class: label 1 (or True) if present, else last."""
    classes = list(getattr(estimator, "classes_", []))
    for label in (1, True, "1"):
        if label in classes and len(classes) == n_outputs:
            return classes.index(label)
    return n_outputs - 1


def model_output(estimator: Any, data: pd.DataFrame, explainer: str) -> tuple[np.ndarray, str]:
    """Return the model output an explainer's values add up to, and a description of it."""
    name = type(estimator).__name__
    module = type(estimator).__module__.split(".")[0]
    has_proba = hasattr(estimator, "predict_proba")
    if explainer == "tree" and has_proba and name in _PROBABILITY_TREE_CLASSIFIERS:
        proba = estimator.predict_proba(data)
        return proba[:, _positive_class_index(estimator, proba.shape[1])], "probability"
    if explainer == "tree" and module in _TREE_LIBRARIES and has_proba:
        if module == "xgboost":
            return np.asarray(estimator.predict(data, output_margin=True)), "margin (log-odds)"
        return np.asarray(estimator.predict(data, raw_score=True)), "margin (log-odds)"
    if hasattr(estimator, "decision_function"):
        scores = np.asarray(estimator.decision_function(data))
        if scores.ndim == 2:
            scores = scores[:, _positive_class_index(estimator, scores.shape[1])]
        label = "decision_function (log-odds)" if has_proba else "decision_function"
        return scores, label
    if has_proba:
        proba = estimator.predict_proba(data)
        return proba[:, _positive_class_index(estimator, proba.shape[1])], "probability"
    if hasattr(estimator, "predict"):
        return np.asarray(estimator.predict(data), dtype=float), "prediction"
    raise UnsupportedModelError(
        f"Model type {type(estimator).__module__}.{name} has no decision_function, predict_proba "
        "or predict method, so no SHAP explainer can explain it."
    )


def _is_tree_model(estimator: Any) -> bool:
    module = type(estimator).__module__.split(".")[0]
    return (
        module in _TREE_LIBRARIES
        or hasattr(estimator, "tree_")
        or hasattr(estimator, "_predictors")  # HistGradientBoosting*
        or (hasattr(estimator, "estimators_") and hasattr(estimator, "n_estimators"))
    )


def _is_linear_model(estimator: Any) -> bool:
    return hasattr(estimator, "coef_") and hasattr(estimator, "intercept_")


def _select_output(
    values: Any, base: Any, class_index: Callable[[int], int]
) -> tuple[np.ndarray, np.ndarray]:
    """Return 2-D values and per-row base values of one output, whatever shape shap returned.

    shap < 0.45 returns a list with one array per class for multi-output models; later versions
    return one array with the output last (binary random forests give (rows, features, 2)).
    """
    if isinstance(values, list):
        values = np.stack([np.asarray(v) for v in values], axis=-1)
    values = np.asarray(values, dtype=float)
    base = np.asarray(base, dtype=float)
    if values.ndim == 3:
        n_outputs = values.shape[2]
        index = class_index(n_outputs)
        values = values[:, :, index]
        if base.ndim >= 1 and base.shape[-1] == n_outputs:
            base = base[..., index]
    base = np.ravel(base)
    if base.size == 1:
        base = np.full(values.shape[0], base[0])
    return values, base


# ----- Explainers ---------------------------------------------------------------------------------


def _explain_tree(estimator: Any, data: pd.DataFrame, **_: Any) -> tuple[np.ndarray, np.ndarray]:
    import shap

    # tree_path_dependent needs no background data and is exact for the model's own splits.
    explainer = shap.TreeExplainer(estimator, feature_perturbation="tree_path_dependent")
    values = explainer.shap_values(data, check_additivity=False)
    return _select_output(
        values, explainer.expected_value, lambda n: _positive_class_index(estimator, n)
    )


def _explain_linear(
    estimator: Any, data: pd.DataFrame, background: pd.DataFrame, **_: Any
) -> tuple[np.ndarray, np.ndarray]:
    import shap

    explainer = shap.LinearExplainer(estimator, shap.maskers.Independent(background))
    values = explainer.shap_values(data)
    return _select_output(
        values, explainer.expected_value, lambda n: _positive_class_index(estimator, n)
    )


def _explain_permutation(
    estimator: Any,
    data: pd.DataFrame,
    background: pd.DataFrame,
    random_state: int,
    **_: Any,
) -> tuple[np.ndarray, np.ndarray]:
    import shap

    columns = list(data.columns)

    def predict(rows: np.ndarray) -> np.ndarray:
        frame = pd.DataFrame(rows, columns=columns).astype(data.dtypes.to_dict())
        return model_output(estimator, frame, "permutation")[0]

    explainer = shap.PermutationExplainer(
        predict,
        shap.maskers.Independent(
            background.to_numpy(dtype=float, na_value=np.nan), max_samples=len(background)
        ),
        feature_names=columns,
        seed=random_state,
    )
    explanation = explainer(
        data.to_numpy(dtype=float, na_value=np.nan), max_evals="auto", silent=True
    )
    return _select_output(explanation.values, explanation.base_values, lambda n: n - 1)


_EXPLAINER_FUNCTIONS = {
    "tree": _explain_tree,
    "linear": _explain_linear,
    "permutation": _explain_permutation,
}


def candidate_explainers(estimator: Any, explainer: str = "auto") -> list[str]:
    """Return the explainers to try for an estimator, best first."""
    if explainer not in EXPLAINERS:
        raise ValueError(f"explainer must be one of {EXPLAINERS}, got {explainer!r}")
    model_type = f"{type(estimator).__module__}.{type(estimator).__name__}"
    can_predict = any(
        hasattr(estimator, method) for method in ("decision_function", "predict_proba", "predict")
    )
    supported = [
        kind
        for kind, fits in (
            ("tree", _is_tree_model(estimator)),
            ("linear", _is_linear_model(estimator)),
            ("permutation", can_predict),
        )
        if fits
    ]
    if not supported:
        raise UnsupportedModelError(
            f"No SHAP explainer supports model type {model_type}: it is not a tree ensemble, "
            "not a linear model, and has no decision_function, predict_proba or predict method."
        )
    if explainer == "auto":
        return supported
    if explainer not in supported:
        raise UnsupportedModelError(
            f"The '{explainer}' explainer does not support model type {model_type}; "
            f"explainers that do: {supported} (or set explainer: auto)."
        )
    return [explainer]


def explain(
    model: Any,
    features: pd.DataFrame,
    *,
    explainer: str = "auto",
    background_size: int = 100,
    agnostic_max_rows: int = 200,
    additivity_tolerance: float = 1e-3,
    random_state: int = 0,
) -> Attribution:
    """Return SHAP attributions of ``model`` for every row of ``features`` (already sampled).

    ``features`` holds raw columns; extra columns (target, id, sensitive attribute) are dropped by
    the model's own preprocessing. ``additivity_tolerance`` is relative to the spread of the
    model output.
    """
    _, estimator = split_model(model)
    data = model_space_features(model, features)
    background = data
    if background_size < len(data):
        background, _ = sample_rows(data, background_size, random_state)
    model_type = type(estimator).__name__
    failures: list[str] = []

    for kind in candidate_explainers(estimator, explainer):
        rows, raw_rows = data, features
        if kind == "permutation" and len(data) > agnostic_max_rows:
            rng = np.random.default_rng(random_state)
            positions = np.sort(rng.choice(len(data), size=agnostic_max_rows, replace=False))
            rows, raw_rows = data.iloc[positions], features.iloc[positions]
            logger.info(
                "Permutation explainer: explaining %d of the %d sampled rows "
                "(explainability.agnostic_max_rows) to bound the run time.",
                len(rows),
                len(data),
            )
        try:
            values, base = _EXPLAINER_FUNCTIONS[kind](
                estimator, rows, background=background, random_state=random_state
            )
        except Exception as error:  # each explainer fails in its own way
            failures.append(f"{kind}: {type(error).__name__}: {error}")
            logger.warning("SHAP %s explainer failed on %s: %s", kind, model_type, error)
            continue

        reference, output = model_output(estimator, rows, kind)
        error = float(np.max(np.abs(values.sum(axis=1) + base - reference)))
        scale = max(float(np.ptp(reference)), 1.0)
        if error > additivity_tolerance * scale:
            failures.append(
                f"{kind}: SHAP values miss the model output by up to {error:.4g} "
                f"(tolerance {additivity_tolerance * scale:.4g})"
            )
            logger.warning(
                "SHAP %s explainer does not add up to the output of %s (max error %.4g); "
                "its splits are probably not readable by SHAP (e.g. native categorical "
                "features).",
                kind,
                model_type,
                error,
            )
            continue
        return Attribution(
            values=values,
            base_values=base,
            data=rows,
            raw_data=raw_rows,
            explainer=kind,
            model_type=model_type,
            output=output,
            additivity_error=error,
        )

    raise UnsupportedModelError(
        f"No SHAP explainer could explain model type "
        f"{type(estimator).__module__}.{model_type}: " + "; ".join(failures)
    )


def mean_abs_shap(
    model: Any,
    features: pd.DataFrame,
    sample_size: int,
    random_state: int,
    **explain_options: Any,
) -> dict[str, float]:
    """Return mean |SHAP| per feature (largest first) on a seeded sample of ``features``.

    The monitoring pipeline calls this on the current batch and compares the result with the
    ``shap_importance`` baseline that this pipeline writes with the same function. Extra keyword
    arguments go to ``explain`` (``explainer``, ``background_size``, ...).
    """
    sample, _ = sample_rows(features, sample_size, random_state)
    return explain(model, sample, random_state=random_state, **explain_options).mean_abs()
