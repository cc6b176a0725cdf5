"""The container side of a SageMaker job: SageMaker's file contract mapped onto a Kedro run.

One image serves both job kinds (see docs/sagemaker.md):

- `train` (what SageMaker runs for a training job): the values in
  `/opt/ml/input/config/hyperparameters.json` become Kedro runtime params, each input channel
  `/opt/ml/input/data/<layer>` becomes the data layer `data/<layer>`, `data/06_models` is
  `/opt/ml/model` (uploaded as model.tar.gz) and every other layer lands in `/opt/ml/output/data`.
  On failure the reason goes to `/opt/ml/output/failure` and the exit code is 1.
- `process --pipeline NAME`: `/opt/ml/processing/input/<layer>` and
  `/opt/ml/processing/output/<layer>` become the data layers; on failure the reason goes to
  `/opt/ml/output/message` (the job's ExitMessage) and the exit code is 1.
- `step --name NAME ...` and `gate ...`: the processing steps of the compiled SageMaker Pipeline
  (`kedro sagemaker pipeline compile`): the step's Kedro nodes with the catalog on S3, under the
  execution's one save version; the gate writes `/opt/ml/processing/output/gate/decision.json`.
  A pipeline's training step is `train` with the selection in `_kedro_*` hyperparameters.
- Anything else is run as a command (`kedro run`, `bash`), so the image still works locally.

With the `aws` Kedro environment the catalog reads and writes S3 itself; the layer links are then
unused, and a training job still copies the trained model into `/opt/ml/model`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import pickle
import shutil
import sys
import tempfile
import traceback
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the module imports nothing of the project at runtime (tests load it by path)
    from .pipeline.execution import StepRun

logger = logging.getLogger(__name__)

# The data layers of conf/base/catalog.yml; each one is a channel (or processing input/output).
DATA_LAYERS = (
    "01_raw",
    "02_intermediate",
    "03_primary",
    "04_feature",
    "05_model_input",
    "06_models",
    "07_model_output",
    "08_reporting",
)
MODEL_LAYER = "06_models"
DEFAULT_KEDRO_ENV = "sagemaker"
DEFAULT_TRAINING_PIPELINES = ("training", "evaluation", "explainability")
# Hyperparameters without a dot are hyperparameters of the model (parameters_training.yml).
DEFAULT_HYPERPARAMETER_PREFIX = "training.hyperparameters"
# SageMaker and its SDKs add their own hyperparameters (sagemaker_program, ...): not ours.
RESERVED_HYPERPARAMETER_PREFIXES = ("sagemaker_", "_")
# SageMaker shows at most this much of the failure file (training) or message file (processing).
FAILURE_REASON_LIMIT = 1024


class JobPaths:
    """Where SageMaker puts a job's inputs, config and outputs inside the container."""

    def __init__(self, root: Path | str | None = None) -> None:
        self.root = Path(root or os.environ.get("SAGEMAKER_ROOT", "/opt/ml"))
        self.hyperparameters = self.root / "input" / "config" / "hyperparameters.json"
        self.channels = self.root / "input" / "data"
        self.model = self.root / "model"
        self.output_data = self.root / "output" / "data"
        self.training_failure = self.root / "output" / "failure"
        self.processing_input = self.root / "processing" / "input"
        self.processing_output = self.root / "processing" / "output"
        self.processing_message = self.root / "output" / "message"


def parse_hyperparameter_value(text: Any) -> Any:
    """Return a hyperparameter as the Python value it spells: SageMaker passes every one as text.

    `"0.1"` -> 0.1, `"300"` -> 300, `"true"` -> True, `"null"` -> None, `"[1, 2]"` -> [1, 2];
    anything that is not JSON (`"log_loss"`) stays a string.
    """
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def hyperparameters_to_runtime_params(
    hyperparameters: Mapping[str, Any], prefix: str = DEFAULT_HYPERPARAMETER_PREFIX
) -> dict[str, Any]:
    """Return nested Kedro runtime params for SageMaker hyperparameters.

    A dotted name is a full parameter path (`evaluation.threshold`); a plain name is a model
    hyperparameter under `prefix` (`learning_rate` -> `training.hyperparameters.learning_rate`).
    """
    params: dict[str, Any] = {}
    for name, raw_value in hyperparameters.items():
        if name.startswith(RESERVED_HYPERPARAMETER_PREFIXES):
            continue
        path = name if "." in name or not prefix else f"{prefix}.{name}"
        keys = path.split(".")
        node = params
        for key in keys[:-1]:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise ValueError(f"hyperparameter {name!r} clashes with another one's value")
        node[keys[-1]] = parse_hyperparameter_value(raw_value)
    return params


def parse_param_assignments(assignments: Iterable[str]) -> dict[str, Any]:
    """Return runtime params for `key=value` strings (processing job arguments)."""
    pairs = {}
    for assignment in assignments:
        key, sep, value = assignment.partition("=")
        if not sep or not key:
            raise ValueError(f"parameter {assignment!r} must look like key=value")
        pairs[key.strip()] = value.strip()
    return hyperparameters_to_runtime_params(pairs, prefix="")


def link_data_layers(
    data_root: Path,
    read_only: Mapping[str, Path],
    writable: Mapping[str, Path],
    fallback: Path,
) -> dict[str, Path]:
    """Return layer -> directory after pointing `data_root/<layer>` at each job directory.

    A layer that is both an input and an output is copied into the output first, so the run
    sees the old files and SageMaker uploads the new ones.
    """
    data_root.mkdir(parents=True, exist_ok=True)
    targets: dict[str, Path] = {}
    for layer in sorted({*DATA_LAYERS, *read_only, *writable}):
        if layer in writable:
            target = writable[layer]
            target.mkdir(parents=True, exist_ok=True)
            if layer in read_only:
                shutil.copytree(read_only[layer], target, dirs_exist_ok=True)
        elif layer in read_only:
            target = read_only[layer]
        else:
            target = fallback / layer
            target.mkdir(parents=True, exist_ok=True)
        link = data_root / layer
        if link.is_symlink():
            link.unlink()
        elif link.exists():
            raise FileExistsError(
                f"{link} is a real directory; the job maps data layers onto SageMaker's paths, "
                "so the image must not contain data/ (check .dockerignore)"
            )
        link.symlink_to(target, target_is_directory=True)
        targets[layer] = target
    return targets


def remove_empty_layers(folder: Path) -> None:
    """Remove the layer folders a run left empty, so job outputs hold only what was written."""
    if not folder.is_dir():
        return
    for layer in folder.iterdir():
        if layer.is_dir() and not layer.is_symlink() and not any(layer.iterdir()):
            layer.rmdir()


def _subdirectories(folder: Path) -> dict[str, Path]:
    """Return name -> path of the directories directly inside `folder` (none if it is missing)."""
    if not folder.is_dir():
        return {}
    return {child.name: child for child in folder.iterdir() if child.is_dir()}


def read_hyperparameters(path: Path) -> dict[str, Any]:
    """Return the job's hyperparameters (an empty mapping when the file is absent)."""
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8") or "{}")
    if not isinstance(data, dict):
        raise ValueError(f"{path} must hold a JSON object, not {type(data).__name__}")
    return data


def run_kedro(
    project_path: Path,
    *,
    env: str,
    pipeline_names: Sequence[str],
    runtime_params: Mapping[str, Any],
    export_model_to: Path | None = None,
    model_dataset: str = "model",
    save_version: str | None = None,
    load_versions: Mapping[str, str] | None = None,
    tags: Sequence[str] = (),
    node_names: Sequence[str] = (),
    step_name: str | None = None,
) -> None:
    """Run the named pipelines in one Kedro session; optionally copy the model out afterwards.

    `save_version` replaces the session's own timestamp, so that every step of one SageMaker
    Pipeline execution writes under the same version folder. A step (`step_name`) writes a part
    of the execution's run manifest; the gate completes it (complete_execution).
    """
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    bootstrap_project(project_path)
    with _session_id(save_version):
        session = KedroSession.create(
            project_path=project_path, env=env, runtime_params=dict(runtime_params)
        )
    with session, _aliases_left_to_the_gate(save_version), _manifest_part_of(step_name):
        session.run(
            pipeline_names=list(pipeline_names),
            tags=list(tags) or None,
            node_names=list(node_names) or None,
            load_versions=dict(load_versions or {}) or None,
        )
        if export_model_to is not None and not any(export_model_to.iterdir()):
            # Only when the catalog kept the model elsewhere (S3): SageMaker packs /opt/ml/model.
            context = session.load_context()
            # This run's model, even if another run saved a newer version meanwhile.
            catalog = (
                context.catalog
                if save_version is None
                else context._get_catalog(load_versions={model_dataset: save_version})
            )
            model = catalog.load(model_dataset)
            with (export_model_to / "model.pkl").open("wb") as file:
                pickle.dump(model, file)


@contextmanager
def _manifest_part_of(step_name: str | None) -> Iterator[None]:
    """Within a pipeline step, the run's manifest is a part of the execution's (no completion)."""
    if step_name is None:
        yield
        return
    from ..versioning.run_manifest_hook import execution_step

    with execution_step(step_name):
        yield


def complete_execution(context: Any, save_version: str, execution_id: str) -> str | None:
    """Mark the execution's versions complete: merge its steps' manifest parts; return the URL.

    Called by the gate, which runs only after every Kedro step of the execution succeeded.
    Returns None when the env keeps no run manifests; a retried gate finds the manifest written.
    """
    from kedro.config import MissingConfigException

    from ..versioning.dataset_versions import locate, versioned_dataset_names
    from ..versioning.run_manifest import MANIFEST_DATASET, merge_step_parts, write_manifest

    conf_catalog = context.config_loader["catalog"]
    if MANIFEST_DATASET not in versioned_dataset_names(conf_catalog):
        return None
    try:
        conf_creds = context.config_loader["credentials"]
    except MissingConfigException:
        conf_creds = {}
    location = locate(MANIFEST_DATASET, conf_catalog, conf_creds, Path(context.project_path))
    target = location.version_path(save_version)
    if location.filesystem.exists(target):
        logger.info("execution %s was already marked complete: %s", execution_id, target)
        return location.url(target)
    url = write_manifest(location, merge_step_parts(location, save_version, execution_id))
    logger.info("execution %s complete: manifest %s", execution_id, url)
    return url


@contextmanager
def _aliases_left_to_the_gate(save_version: str | None) -> Iterator[None]:
    """Within a pipeline step (a save version given), let the registry hook move no alias.

    The step's training run may still register its model (with a tracking server); whether
    it becomes champion or challenger is the gate's decision (pipeline/mlflow_registry.py).
    """
    if save_version is None:
        yield
        return
    from ..registry.hook import deferred_aliases

    with deferred_aliases():
        yield


@contextmanager
def _session_id(save_version: str | None) -> Iterator[None]:
    """Make KedroSession.create use `save_version` as its id (= the save version), if given."""
    if save_version is None:
        yield
        return
    from kedro.framework.session import session as session_module

    original = session_module.generate_timestamp
    session_module.generate_timestamp = lambda: save_version
    try:
        yield
    finally:
        session_module.generate_timestamp = original


def write_failure_reason(path: Path, error: BaseException) -> None:
    """Write the first line SageMaker shows for a failed job (type and message of `error`)."""
    reason = f"{type(error).__name__}: {error}".strip()
    encoded = reason.encode("utf-8")[:FAILURE_REASON_LIMIT]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encoded.decode("utf-8", errors="ignore").encode("utf-8"))


def _project_path() -> Path:
    return Path(os.environ.get("KEDRO_PROJECT_PATH", Path.cwd())).resolve()


def _data_root(project_path: Path) -> Path:
    # conf/sagemaker/globals.yml keeps `storage.root: data`, relative to the project folder.
    return Path(os.environ.get("SAGEMAKER_DATA_ROOT", project_path / "data"))


def train(paths: JobPaths, env: str, pipeline_names: Sequence[str]) -> None:
    """Run a training job: hyperparameters as runtime params, channels in, model out."""
    project_path = _project_path()
    os.chdir(project_path)
    # SageMaker's MetricDefinitions read the metrics from the log (tracking/metric_lines.py).
    os.environ.setdefault("KEDRO_METRIC_LINES", "true")
    hyperparameters = read_hyperparameters(paths.hyperparameters)
    runtime_params = hyperparameters_to_runtime_params(hyperparameters)
    # A SageMaker Pipeline's training step names its nodes and versions in hyperparameters.
    from .pipeline.execution import step_run_from_hyperparameters

    step = step_run_from_hyperparameters(hyperparameters)
    if step is not None:
        pipeline_names = step.pipelines
    paths.model.mkdir(parents=True, exist_ok=True)
    layers = link_data_layers(
        _data_root(project_path),
        read_only=_subdirectories(paths.channels),
        writable={MODEL_LAYER: paths.model},
        fallback=paths.output_data,
    )
    logger.info("training job: env=%s pipelines=%s", env, ",".join(pipeline_names))
    logger.info("runtime params from hyperparameters: %s", json.dumps(runtime_params))
    logger.info("data layers: %s", {layer: str(target) for layer, target in layers.items()})
    run_kedro(
        project_path,
        env=env,
        pipeline_names=pipeline_names,
        runtime_params=runtime_params,
        export_model_to=paths.model,
        model_dataset=os.environ.get("SAGEMAKER_MODEL_DATASET", "model"),
        **_step_selection(step),
    )
    remove_empty_layers(paths.output_data)
    if step is not None:
        link_execution_run(
            project_path,
            env,
            execution_id=step.execution_id,
            save_version=step.save_version,
            step_name=step.name,
        )


def _step_selection(step: StepRun | None) -> dict[str, Any]:
    """Return run_kedro's arguments for a pipeline step (none for a plain job)."""
    if step is None:
        return {}
    logger.info(
        "pipeline step %s: execution %s, save version %s, load versions %s",
        step.name,
        step.execution_id,
        step.save_version,
        json.dumps(dict(step.load_versions)),
    )
    return {
        "save_version": step.save_version,
        "load_versions": step.load_versions,
        "tags": step.tags,
        "node_names": step.nodes,
        "step_name": step.name,
    }


def pipeline_step(paths: JobPaths, env: str, step: StepRun, params: Iterable[str]) -> None:
    """Run a SageMaker Pipeline processing step: its nodes, the catalog moving the data (S3)."""
    project_path = _project_path()
    os.chdir(project_path)
    run_kedro(
        project_path,
        env=env,
        pipeline_names=step.pipelines,
        runtime_params=parse_param_assignments(params),
        **_step_selection(step),
    )
    link_execution_run(
        project_path,
        env,
        execution_id=step.execution_id,
        save_version=step.save_version,
        step_name=step.name,
    )


def _tracking_client(project_path: Path, env: str) -> tuple[Any, str] | None:
    """Return (MLflow client, experiment id) when a tracking server is configured, else None."""
    from kedro.framework.session import KedroSession

    from ..tracking.config import TrackingConfig
    from ..tracking.hook import _tracking_conf

    with KedroSession.create(project_path=project_path, env=env) as session:
        config = TrackingConfig.from_conf(_tracking_conf(session.load_context()))
    # A local store inside a job's container is thrown away with it: nothing to link.
    if not config.enabled or config.is_local_store():
        return None
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=config.store_uri(project_path))
    experiment = client.get_experiment_by_name(config.experiment_name)
    if experiment is None:
        return None
    return client, experiment.experiment_id


def link_execution_run(
    project_path: Path,
    env: str,
    *,
    execution_id: str,
    save_version: str,
    step_name: str,
    decision: Mapping[str, Any] | None = None,
) -> None:
    """Nest this step's MLflow run under the execution's run (when tracking has a server)."""
    from .pipeline import execution_run

    tracking = _tracking_client(project_path, env)
    if tracking is None:
        return
    client, experiment_id = tracking
    parent = execution_run.execution_run_id(client, experiment_id, execution_id, save_version)
    adopted = execution_run.adopt_step_runs(client, experiment_id, parent, save_version, step_name)
    if decision is not None:
        execution_run.log_decision(client, parent, decision)
    logger.info("MLflow: execution run %s, step runs %s", parent, ", ".join(adopted) or "none")


def _gate_registry(context: Any) -> Any:
    """Return the gate's RegistryTarget, or None without a tracking server."""
    from ..registry import hook
    from .pipeline.mlflow_registry import RegistryTarget, registry_uri

    project_path = Path(context.project_path)
    uri = registry_uri(hook.tracking_settings(context), project_path)
    if uri is None:
        return None
    return RegistryTarget(
        uri=uri,
        model_name=hook.registered_model_name(context),
        settings=hook.registry_settings(context.params),
        # Inside a container this file is discarded; the registry's audit tag is the record.
        audit_log=project_path / hook.AUDIT_LOG,
    )


def record_in_mlflow(
    registry: Any,
    challenger: Any,
    holdout: Any,
    result: Any,
    *,
    execution_id: str,
    approval_status: str,
    load_versions: Mapping[str, str],
) -> Any:
    """Return the MLflow version recording a promoted challenger (None: nothing recorded).

    `registry` is the RegistryTarget of `_gate_registry`, None without a tracking server.
    """
    if registry is None:
        logger.info("MLflow: no tracking server configured, the registry records nothing")
        return None
    from ..core.features import trained_columns
    from .pipeline.mlflow_registry import record_gate_model

    columns = trained_columns(challenger)
    rows = registry.settings.input_example_rows
    example = None if columns is None else holdout[columns].head(rows)
    return record_gate_model(
        registry.uri, registry.model_name, challenger, example, result,
        execution_id=execution_id, approval_status=approval_status,
        load_versions=load_versions, settings=registry.settings, audit_log=registry.audit_log,
    )  # fmt: skip


def gate(paths: JobPaths, env: str, args: argparse.Namespace) -> None:
    """Run the promotion gate step: score champion and challenger, write the decision files."""
    import boto3
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    from .pipeline import gate as promotion_gate
    from .pipeline.definition import DECISION_FILE, GATE_OUTPUT, MODEL_QUALITY_FILE
    from .pipeline.execution import save_version_from_start

    project_path = _project_path()
    os.chdir(project_path)
    save_version = save_version_from_start(args.execution_start)
    bootstrap_project(project_path)
    with KedroSession.create(
        project_path=project_path, env=env, runtime_params=parse_param_assignments(args.param)
    ) as session:
        context = session.load_context()
        # The challenger and the holdout of this execution, not the newest ones in the bucket.
        # Kedro pins load versions only through this method (no public one).
        catalog = context._get_catalog(
            load_versions={args.model_dataset: save_version, args.holdout_dataset: save_version}
        )
        challenger = catalog.load(args.model_dataset)
        holdout = catalog.load(args.holdout_dataset)
        params = context.params
        registry = _gate_registry(context)
        # Every Kedro step succeeded (the gate depends on them): their versions are complete.
        complete_execution(context, save_version, args.execution_id)
    aws = boto3.Session()
    champion = promotion_gate.find_champion(
        aws.client("sagemaker"), aws.client("s3"), args.model_package_group
    )
    result = promotion_gate.run_gate(challenger, champion, holdout, params, save_version)
    logger.info("promotion decision: %s", result.decision.reason)
    registered = record_in_mlflow(
        registry, challenger, holdout, result,
        execution_id=args.execution_id, approval_status=args.approval_status,
        load_versions={args.model_dataset: save_version, args.holdout_dataset: save_version},
    )  # fmt: skip
    if registered is not None:
        result = dataclasses.replace(result, mlflow_model_version=registered.version)
    promotion_gate.write_gate_outputs(
        paths.processing_output / GATE_OUTPUT, result, DECISION_FILE, MODEL_QUALITY_FILE
    )
    print(result.to_json(), flush=True)
    link_execution_run(
        project_path,
        env,
        execution_id=args.execution_id,
        save_version=save_version,
        step_name="PromotionGate",
        decision=result.to_dict(),
    )


def process(paths: JobPaths, env: str, pipeline_name: str, params: Iterable[str]) -> None:
    """Run a processing job: the named pipeline between the processing inputs and outputs."""
    project_path = _project_path()
    os.chdir(project_path)
    scratch = Path(tempfile.mkdtemp(prefix="kedro-scratch-"))
    layers = link_data_layers(
        _data_root(project_path),
        read_only=_subdirectories(paths.processing_input),
        writable=_subdirectories(paths.processing_output),
        fallback=scratch,
    )
    logger.info("processing job: env=%s pipeline=%s", env, pipeline_name)
    logger.info("data layers: %s", {layer: str(target) for layer, target in layers.items()})
    run_kedro(
        project_path,
        env=env,
        pipeline_names=[pipeline_name],
        runtime_params=parse_param_assignments(params),
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m <package>.sagemaker",
        description="Run a Kedro pipeline under SageMaker's training or processing contract.",
    )
    sub = parser.add_subparsers(dest="mode", required=True)
    env_default = os.environ.get("SAGEMAKER_KEDRO_ENV", DEFAULT_KEDRO_ENV)
    train_parser = sub.add_parser("train", help="training job (SageMaker runs `<image> train`)")
    train_parser.add_argument("--env", default=env_default, help="Kedro environment")
    train_parser.add_argument(
        "--pipelines",
        default=os.environ.get(
            "SAGEMAKER_TRAINING_PIPELINES", ",".join(DEFAULT_TRAINING_PIPELINES)
        ),
        help="comma-separated pipelines to run (default: training,evaluation,explainability)",
    )
    process_parser = sub.add_parser("process", help="processing job")
    process_parser.add_argument("--pipeline", required=True, help="pipeline to run")
    process_parser.add_argument("--env", default=env_default, help="Kedro environment")
    process_parser.add_argument(
        "--param", action="append", default=[], metavar="KEY=VALUE", help="runtime parameter"
    )
    _pipeline_parsers(sub, env_default)
    return parser


def _execution_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--execution-start", required=True, help="Execution.StartDateTime")
    parser.add_argument("--execution-id", required=True, help="Execution.PipelineExecutionId")
    parser.add_argument(
        "--param", action="append", default=[], metavar="KEY=VALUE", help="runtime parameter"
    )


def _pipeline_parsers(sub: Any, env_default: str) -> None:
    step_parser = sub.add_parser("step", help="a SageMaker Pipeline processing step")
    step_parser.add_argument("--name", required=True, help="step name")
    step_parser.add_argument("--env", default=env_default, help="Kedro environment")
    step_parser.add_argument("--pipelines", required=True, help="comma-separated pipelines")
    step_parser.add_argument("--tags", default="", help="comma-separated node tags")
    step_parser.add_argument("--nodes", default="", help="comma-separated node names")
    step_parser.add_argument(
        "--pin-to-execution",
        action="append",
        default=[],
        metavar="DATASET",
        help="load DATASET at this execution's save version (an earlier step wrote it)",
    )
    step_parser.add_argument(
        "--load-version",
        action="append",
        default=[],
        metavar="DATASET=VERSION",
        help="load DATASET at VERSION (empty: the newest)",
    )
    _execution_options(step_parser)
    gate_parser = sub.add_parser("gate", help="the promotion gate step")
    gate_parser.add_argument("--env", default=env_default, help="Kedro environment")
    gate_parser.add_argument("--model-dataset", required=True)
    gate_parser.add_argument("--holdout-dataset", required=True)
    gate_parser.add_argument("--model-package-group", required=True)
    gate_parser.add_argument(
        "--approval-status",
        default="PendingManualApproval",
        help="the model package's approval status (Approved: the MLflow version is champion)",
    )
    _execution_options(gate_parser)


def main(argv: Sequence[str] | None = None) -> int:
    """Return the exit code of the job named by `argv` (or exec any other command)."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] not in {"train", "process", "step", "gate", "-h", "--help"}:
        # Not a job: behave like a plain image (`docker run IMAGE kedro run`).
        os.execvp(args_list[0], args_list)  # noqa: S606
    args = _parser().parse_args(args_list)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    paths = JobPaths()
    failure_file = paths.training_failure if args.mode == "train" else paths.processing_message
    try:
        if args.mode == "train":
            pipelines = [name.strip() for name in args.pipelines.split(",") if name.strip()]
            train(paths, args.env, pipelines)
        elif args.mode == "process":
            process(paths, args.env, args.pipeline, args.param)
        elif args.mode == "step":
            from .pipeline.execution import StepRun

            step = StepRun.build(
                name=args.name,
                pipelines=args.pipelines,
                tags=args.tags,
                nodes=args.nodes,
                execution_start=args.execution_start,
                execution_id=args.execution_id,
                pin_to_execution=args.pin_to_execution,
                load_versions=args.load_version,
            )
            pipeline_step(paths, args.env, step, args.param)
        else:
            gate(paths, args.env, args)
    except SystemExit as stop:  # a monitoring verdict at its exit level (monitoring/hook.py)
        if not stop.code:
            return 0
        write_failure_reason(failure_file, stop)
        return stop.code if isinstance(stop.code, int) else 1
    except Exception as error:  # every failure must reach SageMaker's file
        traceback.print_exc()
        write_failure_reason(failure_file, error)
        return 1
    return 0
