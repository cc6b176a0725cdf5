"""Every parameters section as a strict, frozen model, and one check of them all before a run.

Each top-level key of conf/<env>/parameters*.yml has a pydantic v2 model in `SECTIONS`, with
`ConfigDict(strict=True, extra="forbid", frozen=True)`: an unknown key, a key under the wrong group
or a value of the wrong type fails, and the error names the file and the key. The defaults live in
the YAML only; the models have none (a key the YAML ships is required).

Strict mode still takes an integer where a float belongs (`24` for `24.0`: pydantic's strict float
accepts int, never bool or str). Lists of column names are the one lax spot: YAML has no tuple, and
the frozen spec keeps them as tuples (`Names`), their items still strictly strings.

`validate_parameters` runs once per run (ParametersHook, before any node); the hook, the CLI and
tests read the files with `read_parameter_sources`. Sections with a model elsewhere are imported
here too (promotion, model registry, retraining), so `SECTIONS` is the one list of what parameters
a project takes, and the modules that use a section import its model from here. This module
imports nothing outside `core/`, and no Kedro.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    field_validator,
    model_validator,
)

from .metrics import METRIC_DIRECTIONS


class _Section(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


# A YAML list of column names, kept as a tuple so the frozen model cannot be changed in place.
Names = Annotated[tuple[Annotated[str, Field(min_length=1)], ...], Strict(False)]
Level = Literal["ok", "warn", "fail"]
Share = Annotated[float, Field(ge=0, le=1)]


def _warn_below_fail(model: BaseModel, *pairs: tuple[str, str]) -> None:
    for warn, fail in pairs:
        if getattr(model, fail) < getattr(model, warn):
            raise ValueError(f"{warn} ({getattr(model, warn)}) must be <= {fail}")


# ----- features (parameters.yml) ------------------------------------------------------------------


class FeatureSpec(_Section):
    """The `features` section: the label, the model's columns and the columns with other roles.

    The one statement of what a usable spec is: the parameters hook applies it before any node
    runs, and `core.features.feature_spec` when a node is called with a plain mapping.
    """

    target: str = Field(min_length=1)
    # null: no id column (rows are matched by position).
    id_column: str | None
    numeric: Names
    categorical: Names
    # null: no bias metrics. Kept out of the model's features on purpose.
    sensitive_attribute: str | None

    @field_validator("numeric", "categorical", mode="before")
    @classmethod
    def _a_list(cls, value: Any) -> Any:
        # Said in YAML's words: the frozen spec keeps a tuple, the file holds a list.
        if not isinstance(value, list | tuple):
            raise ValueError(f"must be a list of column names (`[]` for none), got {value!r}")
        return value

    @model_validator(mode="after")
    def _one_role_per_column(self) -> FeatureSpec:
        # Every problem at once, each naming its key: a spec is usually fixed in one edit.
        problems = []
        model = self.model_columns
        if not model:
            problems.append("numeric and categorical are both empty: the model has no features")
        repeated = sorted({column for column in model if model.count(column) > 1})
        if repeated:
            problems.append(f"column(s) {repeated} listed twice in numeric/categorical")
        roles = {
            "target": self.target,
            "id_column": self.id_column,
            "sensitive_attribute": self.sensitive_attribute,
        }
        for role, column in roles.items():
            if column and column in model:
                problems.append(
                    f"{role} {column!r} is also a model feature: remove it from numeric/categorical"
                )
        named = [(role, column) for role, column in roles.items() if column]
        for column in sorted({c for _, c in named if [c2 for _, c2 in named].count(c) > 1}):
            shared = " and ".join(role for role, c in named if c == column)
            problems.append(f"{shared} are all {column!r}: a column has one role")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def model_columns(self) -> tuple[str, ...]:
        """Return the model's feature columns: numeric then categorical, in parameter order."""
        return (*self.numeric, *self.categorical)


# ----- data_processing, training, evaluation, inference -------------------------------------------


class DataProcessingSettings(_Section):
    """The `data_processing` section: the stratified train/test split."""

    test_size: float = Field(gt=0, lt=1)
    random_state: int


class TrainingSettings(_Section):
    """The `training` section."""

    # Passed as-is to the estimator, which names a wrong one itself; SageMaker overrides any of
    # them, so this mapping is deliberately open.
    hyperparameters: dict[str, Any]


class EvaluationSettings(_Section):
    """The `evaluation` section: the project's one decision threshold and the calibration plot."""

    threshold: float = Field(ge=0, le=1)
    calibration_bins: int = Field(ge=2)


class InferenceSettings(_Section):
    """The `inference` section (batch scoring)."""

    # Rows per scoring pass inside a chunk (bounds the scorer's working memory).
    chunk_rows: int = Field(gt=0)
    # Copy the batch's columns that are not model features next to each prediction.
    carry_extra_columns: bool


# ----- explainability -----------------------------------------------------------------------------


class BiasSettings(_Section):
    """`explainability.bias`: group-fairness metrics on the test set."""

    min_group_size: int = Field(ge=1)
    # Difference metric -> the level above which it is a warning.
    warn_thresholds: dict[str, Annotated[float, Field(ge=0)]]


class ExplainabilitySettings(_Section):
    """The `explainability` section: SHAP attributions and bias metrics."""

    sample_size: int = Field(ge=1)
    random_state: int
    explainer: Literal["auto", "tree", "linear", "permutation"]
    background_size: int = Field(ge=1)
    agnostic_max_rows: int = Field(ge=1)
    additivity_tolerance: float = Field(gt=0)
    max_display: int = Field(ge=1)
    dependence_top_k: int = Field(ge=0)
    bias: BiasSettings


# ----- monitoring ---------------------------------------------------------------------------------


class DataValidationSettings(_Section):
    """`monitoring.validation`: how the expectation suite is derived from the reference data."""

    range_tolerance: float = Field(ge=0)
    range_mostly: float = Field(gt=0, le=1)
    null_rate_multiplier: float = Field(ge=0)
    null_rate_slack: Share
    max_categories: int = Field(ge=0)
    min_rows: int = Field(ge=1)


class NumericDriftSettings(_Section):
    """`monitoring.drift.numeric`: PSI and Wasserstein levels."""

    psi_bins: int = Field(ge=2)
    psi_warn: float = Field(ge=0)
    psi_fail: float = Field(ge=0)
    wasserstein_warn: float = Field(ge=0)
    wasserstein_fail: float = Field(ge=0)

    @model_validator(mode="after")
    def _levels(self) -> NumericDriftSettings:
        _warn_below_fail(self, ("psi_warn", "psi_fail"), ("wasserstein_warn", "wasserstein_fail"))
        return self


class CategoricalDriftSettings(_Section):
    """`monitoring.drift.categorical`: Jensen-Shannon levels."""

    jensen_shannon_warn: Share
    jensen_shannon_fail: Share

    @model_validator(mode="after")
    def _levels(self) -> CategoricalDriftSettings:
        _warn_below_fail(self, ("jensen_shannon_warn", "jensen_shannon_fail"))
        return self


class DatasetDriftSettings(_Section):
    """`monitoring.drift.dataset`: the share of drifted features that makes the batch drift."""

    dataset_drift_share_warn: Share
    dataset_drift_share_fail: Share

    @model_validator(mode="after")
    def _levels(self) -> DatasetDriftSettings:
        _warn_below_fail(self, ("dataset_drift_share_warn", "dataset_drift_share_fail"))
        return self


class DriftReportSettings(_Section):
    """`monitoring.drift.report`: the size of the report's small plots."""

    plot_bins: int = Field(ge=1)
    plot_categories: int = Field(ge=1)


class DataDriftSettings(_Section):
    """`monitoring.drift`: the data drift check, grouped as in the YAML."""

    alpha: float = Field(gt=0, lt=1)
    correction: Literal["benjamini_hochberg", "holm", "bonferroni", "none"]
    decision_rule: Literal["test_and_effect", "test_only", "effect_only"]
    numeric: NumericDriftSettings
    categorical: CategoricalDriftSettings
    dataset: DatasetDriftSettings
    report: DriftReportSettings
    psi_epsilon: float = Field(gt=0)
    n_jobs: int = Field(ge=1)

    def flat(self) -> dict[str, Any]:
        """Return every threshold as one flat mapping (the groups' keys never clash)."""
        flat = self.model_dump(exclude=set(DRIFT_GROUPS))
        for group in DRIFT_GROUPS:
            flat.update(getattr(self, group).model_dump())
        return flat


# The groups of `monitoring.drift` and the keys each one holds.
DRIFT_GROUPS: dict[str, tuple[str, ...]] = {
    "numeric": tuple(NumericDriftSettings.model_fields),
    "categorical": tuple(CategoricalDriftSettings.model_fields),
    "dataset": tuple(DatasetDriftSettings.model_fields),
    "report": tuple(DriftReportSettings.model_fields),
}


class MetricTolerance(_Section):
    """How far one metric may drop before a warning, and before a failure."""

    tolerated_drop: float = Field(ge=0)
    failing_drop: float = Field(ge=0)

    @model_validator(mode="after")
    def _levels(self) -> MetricTolerance:
        _warn_below_fail(self, ("tolerated_drop", "failing_drop"))
        return self


class ModelDriftSettings(_Section):
    """`monitoring.model_drift`: performance on a labelled batch against evaluation_metrics."""

    min_labelled_rows: int = Field(ge=1)
    metrics: dict[str, MetricTolerance]


class PredictionDriftSettings(_Section):
    """`monitoring.prediction_drift`: the model's scores on the batch against the reference."""

    psi_bins: int = Field(ge=2)
    psi_warn: float = Field(gt=0)
    psi_fail: float = Field(gt=0)
    ks_warn: float = Field(gt=0, le=1)
    ks_fail: float = Field(gt=0, le=1)
    # Floor for empty PSI bins (avoids log(0)).
    psi_epsilon: float = Field(gt=0)
    # Fewer scored rows on either side: the comparison is a warning, not a verdict.
    min_rows: int = Field(ge=1)

    @model_validator(mode="after")
    def _fail_above_warn(self) -> PredictionDriftSettings:
        for name in ("psi", "ks"):
            warn, fail = getattr(self, f"{name}_warn"), getattr(self, f"{name}_fail")
            if fail < warn:
                raise ValueError(
                    f"{name}_fail ({fail}) must not be smaller than {name}_warn ({warn})"
                )
        return self


class AttributionDriftSettings(_Section):
    """`monitoring.concept_drift.attribution`: feature importances, reference against batch."""

    enabled: bool
    sample_size: int = Field(ge=1)
    random_state: int
    refit_on_current: bool
    refit_min_rows: int = Field(ge=1)
    min_rank_correlation_warn: float = Field(ge=-1, le=1)
    min_rank_correlation_fail: float = Field(ge=-1, le=1)
    min_ndcg_warn: Share
    min_ndcg_fail: Share
    # null: every feature.
    ndcg_top_k: int | None = Field(ge=1)
    max_importance_shift_warn: Share
    max_importance_shift_fail: Share

    @model_validator(mode="after")
    def _levels(self) -> AttributionDriftSettings:
        # Correlation and NDCG warn *below* a level, so the fail level is the lower one.
        _warn_below_fail(
            self,
            ("min_rank_correlation_fail", "min_rank_correlation_warn"),
            ("min_ndcg_fail", "min_ndcg_warn"),
            ("max_importance_shift_warn", "max_importance_shift_fail"),
        )
        return self


class ConceptDriftSettings(_Section):
    """`monitoring.concept_drift`."""

    max_input_drift_share: Share
    attribution: AttributionDriftSettings


class RetrySettings(_Section):
    """How a channel that is down, slow or failing is retried: bounded in count and in time."""

    attempts: int = Field(ge=1, le=10)
    timeout_seconds: float = Field(gt=0, le=120)
    backoff_seconds: float = Field(ge=0, le=60)
    max_backoff_seconds: float = Field(ge=0, le=300)
    total_seconds: float = Field(gt=0, le=900)


class LogSettings(_Section):
    """The verdict and its reasons in the run's log."""

    enabled: bool


class JsonLinesSettings(_Section):
    """Metric records appended as JSON lines to the catalog's `monitoring_metrics`."""

    enabled: bool


class CloudWatchSettings(_Section):
    """CloudWatch metrics and an optional SNS message."""

    enabled: bool
    namespace: str
    region_name: str | None
    endpoint_url: str | None
    dimensions: dict[str, str]
    sns_topic_arn: str | None
    sns_min_level: Level


class DatadogSettings(_Section):
    """Datadog metric series and one event per verdict (site and keys: docs/alerting.md)."""

    enabled: bool
    # null: DD_SITE, then `datadog.site` in conf/<env>/credentials.yml, then datadoghq.com.
    site: str | None
    # null: https://api.<site>. A proxy, or the loopback server the tests start.
    api_url: str | None
    metric_prefix: str = Field(pattern=r"^[a-zA-Z][a-zA-Z0-9_.]*$")
    event: bool
    tags: dict[str, str]


class PagerDutySettings(_Section):
    """PagerDuty Events API v2: one incident per project, environment and check."""

    enabled: bool
    events_url: str
    trigger_on: Literal["warn", "fail"]
    source: str | None


class AlertingSettings(_Section):
    """`monitoring.alerting`: the exit level and the channels the verdict goes to."""

    exit_nonzero_on: Literal["warn", "fail", "never"]
    environment: str = Field(min_length=1)
    retry: RetrySettings
    log: LogSettings
    jsonl: JsonLinesSettings
    cloudwatch: CloudWatchSettings
    datadog: DatadogSettings
    pagerduty: PagerDutySettings

    @model_validator(mode="after")
    def _check_backoff(self) -> AlertingSettings:
        if self.retry.max_backoff_seconds < self.retry.backoff_seconds:
            raise ValueError("retry.max_backoff_seconds must be >= retry.backoff_seconds")
        return self

    @classmethod
    def from_params(cls, alerting: Mapping[str, Any] | None) -> AlertingSettings:
        """Return the validated section; a ValueError names every wrong key."""
        try:
            return cls.model_validate(dict(alerting or {}))
        except ValidationError as error:
            problems = "; ".join(
                f"monitoring.alerting.{_dotted(e['loc'])}: {e['msg']}" for e in error.errors()
            )
            raise ValueError(f"invalid monitoring alerting parameters: {problems}") from None


class MonitoringSettings(_Section):
    """The `monitoring` section: validation, the four drift checks and alerting."""

    validation: DataValidationSettings
    drift: DataDriftSettings
    model_drift: ModelDriftSettings
    prediction_drift: PredictionDriftSettings
    concept_drift: ConceptDriftSettings
    alerting: AlertingSettings


# ----- promotion, model_registry, retraining (the registry's sections) ---------------------------


def _known_metric(name: str) -> str:
    if name not in METRIC_DIRECTIONS:
        known = ", ".join(sorted(METRIC_DIRECTIONS))
        raise ValueError(f"unknown metric {name!r}: the promotion gate compares one of {known}")
    return name


class PromotionSettings(_Section):
    """The `promotion` section (parameters_promotion.yml): the gate of registry/promotion.py."""

    primary_metric: str
    min_improvement: float = Field(ge=0.0)
    # Guard metric -> the largest worsening tolerated (in the metric's own units).
    guards: dict[str, float]

    _check_primary = field_validator("primary_metric")(_known_metric)

    @field_validator("guards")
    @classmethod
    def _check_guards(cls, guards: dict[str, float]) -> dict[str, float]:
        for name, tolerance in guards.items():
            _known_metric(name)
            if tolerance < 0 or math.isnan(tolerance):
                raise ValueError(f"guard {name!r}: the tolerance must be >= 0, got {tolerance}")
        return guards


class RegistrySettings(_Section):
    """The `model_registry` section (parameters_registry.yml)."""

    # The catalog dataset whose saved object is the model a successful run registers.
    model_dataset: str
    # Datasets whose numeric scalars become the version's `metric.<prefix><name>` tags.
    metric_datasets: dict[str, str]
    serialization_format: Literal["skops", "cloudpickle"]
    skops_trusted_types: list[str]
    input_example_rows: int = Field(ge=1)


class TrainingSetSettings(_Section):
    """`retraining.training_set`: which rows train the challenger."""

    # append: the reference plus every labelled batch; window: the newest `window_rows` of them.
    policy: Literal["append", "window"]
    window_rows: int = Field(ge=1)
    # Keep the newest labelled batch out of training, so the gate can score both models on it.
    holdout_newest_batch: bool


class RetrainingSettings(_Section):
    """The `retraining` section (parameters_retraining.yml)."""

    # The monitoring verdict that triggers a retrain: warn | fail | never (only --force).
    retrain_on: Literal["warn", "fail", "never"]
    min_hours_between_retrains: float = Field(ge=0)
    training_set: TrainingSetSettings


# ----- sample_data (only with the example) --------------------------------------------------------


class LabelledBatchesSettings(_Section):
    """`sample_data.labelled_batches`: later labelled periods, drifting more and more."""

    count: int = Field(ge=0)
    rows: int = Field(ge=1)
    final_strength: float = Field(ge=0)


class ScoringBatchSettings(_Section):
    """`sample_data.scoring_batch`: the newest period, without labels."""

    rows: int = Field(ge=1)
    strength: float = Field(ge=0)


class SampleDataSettings(_Section):
    """The `sample_data` section: the synthetic example data."""

    seed: int
    reference_rows: int = Field(ge=1)
    current_rows: int = Field(ge=1)
    labelled_batches: LabelledBatchesSettings
    scoring_batch: ScoringBatchSettings


# ----- the registry of sections -------------------------------------------------------------------

# Top-level key of the parameters -> its model. A section a project adds for its own pipeline gets
# a model here too; a top-level key not listed fails the run (a misplaced section is a typo).
SECTIONS: dict[str, type[BaseModel]] = {
    "features": FeatureSpec,
    "data_processing": DataProcessingSettings,
    "training": TrainingSettings,
    "evaluation": EvaluationSettings,
    "explainability": ExplainabilitySettings,
    "inference": InferenceSettings,
    "monitoring": MonitoringSettings,
    "promotion": PromotionSettings,
    "model_registry": RegistrySettings,
    "retraining": RetrainingSettings,
    "sample_data": SampleDataSettings,
}

# Keys that moved: where they live now, said instead of a bare "unknown key".
MOVED_KEYS: dict[tuple[str, ...], str] = {
    ("explainability", "bias", "decision_threshold"): (
        "the decision threshold has one home: evaluation.threshold (parameters_evaluation.yml)"
    ),
}


class ParameterError(ValueError):
    """Parameters that do not fit their models; `problems` holds one line per bad key."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        lines = "\n".join(f"  {problem}" for problem in self.problems)
        super().__init__(
            f"Invalid parameters ({count} problem{'s' if count != 1 else ''}):\n{lines}\n"
            "Every section's model is in src/<package>/core/parameters.py (docs/parameters.md)."
        )


@dataclass(frozen=True)
class ProjectParameters:
    """Every section present in the parameters, parsed; a section not configured is None."""

    features: FeatureSpec | None = None
    data_processing: DataProcessingSettings | None = None
    training: TrainingSettings | None = None
    evaluation: EvaluationSettings | None = None
    explainability: ExplainabilitySettings | None = None
    inference: InferenceSettings | None = None
    monitoring: MonitoringSettings | None = None
    promotion: PromotionSettings | None = None
    model_registry: RegistrySettings | None = None
    retraining: RetrainingSettings | None = None
    sample_data: SampleDataSettings | None = None


# ----- where a key was written --------------------------------------------------------------------


@dataclass(frozen=True)
class ParameterFile:
    """One parameter file: its name as the error shows it, its environment and its content."""

    name: str
    env: str
    content: Mapping[str, Any]


@dataclass(frozen=True)
class ParameterSources:
    """The parameter files of a run, in load order (base first, then the run environment)."""

    files: tuple[ParameterFile, ...] = ()

    def locate(self, path: Sequence[str | int]) -> str:
        """Return the file that sets `path`, else the one holding its nearest parent.

        Kedro's default merge replaces a whole top-level section with the run environment's, so
        only the files of the last environment that sets the section are searched.
        """
        if not self.files:
            return "parameters"  # the files could not be read (a packaged, compressed conf)
        holders = [f for f in self.files if path and _has_path(f.content, path[:1])]
        if not holders:
            return "runtime parameters (--params)"
        candidates = [f for f in holders if f.env == holders[-1].env]
        for depth in range(len(path), 0, -1):
            for file in reversed(candidates):
                if _has_path(file.content, path[:depth]):
                    return file.name
        return candidates[-1].name


def _has_path(content: Any, path: Sequence[str | int]) -> bool:
    node = content
    for key in path:
        if isinstance(node, Mapping) and key in node:
            node = node[key]
        elif isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node):
            node = node[key]
        else:
            return False
    return True


def read_parameter_sources(conf_source: Path | str, envs: Iterable[str]) -> ParameterSources:
    """Return the parameter files of each environment, as Kedro's default patterns find them."""
    import yaml

    root = Path(conf_source)
    files: list[ParameterFile] = []
    for env in dict.fromkeys(envs):  # `--env base` names base twice
        folder = root / env
        if not folder.is_dir():
            continue
        # Kedro's patterns: parameters*, parameters*/**, **/parameters*.
        found = {
            path
            for pattern in ("**/parameters*", "parameters*/**/*")
            for path in folder.glob(pattern)
            if path.is_file()
            and path.suffix in {".yml", ".yaml", ".json"}
            # Kedro skips hidden files and folders (.ipynb_checkpoints ...).
            and not any(part.startswith(".") for part in path.relative_to(folder).parts)
        }
        for path in sorted(found):
            try:
                content = yaml.safe_load(path.read_text(encoding="utf-8"))
            except (OSError, yaml.YAMLError):
                continue  # Kedro's own loader reports an unreadable file
            label = f"{root.name}/{env}/{path.relative_to(folder).as_posix()}"
            files.append(ParameterFile(label, env, content if isinstance(content, Mapping) else {}))
    return ParameterSources(tuple(files))


# ----- the check ----------------------------------------------------------------------------------


def _dotted(loc: Iterable[str | int]) -> str:
    return ".".join(str(part) for part in loc)


def _known_paths(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> dict[str, list[str]]:
    """Return key name -> every dotted path where the model tree accepts that key."""
    known: dict[str, list[str]] = {}
    for name, field in model.model_fields.items():
        known.setdefault(name, []).append(_dotted((*prefix, name)))
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            for key, paths in _known_paths(annotation, (*prefix, name)).items():
                known.setdefault(key, []).extend(paths)
    return known


def _describe(
    prefix: tuple[str, ...], error: Mapping[str, Any], model: type[BaseModel]
) -> tuple[list[str | int], str]:
    """Return the full key path of a validation error and what is wrong, in words."""
    loc: list[str | int] = [*prefix, *error["loc"]]
    if error["type"] == "missing":
        return loc, "missing key (every key the shipped YAML has is required)"
    if error["type"] == "value_error" and "error" in error.get("ctx", {}):
        # A model's own rule: its sentence as written, without pydantic's "Value error, ".
        return loc, str(error["ctx"]["error"])
    if error["type"] != "extra_forbidden":
        return loc, str(error["msg"])
    moved = MOVED_KEYS.get(tuple(str(part) for part in loc))
    if moved:
        return loc, f"no longer read: {moved}"
    homes = [
        _dotted((*prefix, path))
        for path in _known_paths(model).get(str(loc[-1]), [])
        if _dotted((*prefix, path)) != _dotted(loc)
    ]
    if homes:
        return loc, f"unknown key here; it belongs under {' or '.join(homes)}"
    return loc, "unknown key"


def parse_parameters(
    params: Mapping[str, Any], sources: ParameterSources | None = None
) -> ProjectParameters:
    """Return every configured section parsed; a ParameterError lists each bad key and its file.

    Each problem reads `<file>: <section>.<key path>: <what is wrong>`.
    """
    sources = sources or ParameterSources()
    problems: list[str] = []
    parsed: dict[str, BaseModel] = {}
    for section, value in params.items():
        model = SECTIONS.get(section)
        if model is None:
            known = ", ".join(sorted(SECTIONS))
            problems.append(
                f"{sources.locate([section])}: {section}: unknown section (known: {known}; "
                "a new section needs a model in core/parameters.py SECTIONS)"
            )
            continue
        try:
            parsed[section] = model.model_validate(value)
        except ValidationError as error:
            for item in error.errors():
                loc, message = _describe((section,), item, model)
                # A missing key belongs in the file that holds its parent.
                where = sources.locate(loc[:-1] if item["type"] == "missing" else loc)
                problems.append(f"{where}: {_dotted(loc)}: {message}")
    if problems:
        raise ParameterError(problems)
    return ProjectParameters(**parsed)


def section(model: type[BaseModel], value: Any, name: str) -> Any:
    """Return one section (or subsection) parsed; a ParameterError names each bad key.

    For nodes, which receive one `params:<name>` each: the run's hook has checked the files
    already, so this fails only when a node is called with other settings (a test, a notebook).
    """
    if isinstance(value, model):
        return value
    try:
        return model.model_validate(value)
    except ValidationError as error:
        problems = []
        for item in error.errors():
            loc, message = _describe(tuple(name.split(".")), item, model)
            problems.append(f"{_dotted(loc)}: {message}")
        raise ParameterError(problems) from None
