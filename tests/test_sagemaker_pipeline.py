"""`kedro sagemaker pipeline ...`: the compiled SageMaker Pipeline of a rendered project.

- The definition `compile` prints is asserted structurally (steps, order, dependencies, image,
  arguments, instances, parameters, property file, condition), with no AWS endpoint reachable.
- Grouping variants and the split-in-memory-dataset error come from one driver process that
  builds several groupings of the same project; `compile`, `upsert`, `start`, `status` and
  `schedule` run one after another in one other process (CommandServer): a process pays for the
  SDK's import.
- upsert / start / status / schedule run against moto's server on 127.0.0.1. Where moto stops
  (it "succeeds" executions without running steps, has no ListPipelineExecutionSteps, does not
  simulate IAM), the test stands in as SageMaker would and says so at the spot.
- The registration step's request, resolved the way SageMaker resolves its expressions, is sent
  to moto; an approved package then is the champion the gate finds.
"""

from __future__ import annotations

import copy
import json
import select
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from conftest import VENV_BIN, project_env, render
from test_docker import docker_engine, project_image  # noqa: F401 - fixtures of the image test
from test_s3 import seaweed  # noqa: F401 - the SeaweedFS fixture

pytestmark = pytest.mark.sagemaker

PACKAGE = "churn_prediction"
IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/churn-prediction:test"
ROLE = "arn:aws:iam::123456789012:role/SageMakerExecution"
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "eu-west-1",
    # moto has no iam:SimulatePrincipalPolicy, which the SDK's role check calls.
    "SAGEMAKER_VALIDATE_ROLE": "false",
}
GRID = ("DataProcessing", "TrainEvaluateExplain")
TAIL = ("PromotionGate", "PromoteChallenger")


# ----- helpers ------------------------------------------------------------------------------------
def kedro(project: Path, *args: str, env: Mapping[str, str] | None = None, timeout: float = 600):
    """Run `kedro ARGS` in the project; return the completed process."""
    return subprocess.run(
        [str(VENV_BIN / "kedro"), *args],
        cwd=project,
        env=project_env(project, env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def resolve(value: Any, context: Mapping[str, Any]) -> Any:
    """Return `value` with SageMaker's pipeline expressions evaluated the way the service does.

    `Get` reads Parameters.*, Execution.* and Steps.* from `context`; `Std:Join` joins the
    rendered values; `Std:JsonGet` reads a dotted path from the property file's JSON.
    """
    if isinstance(value, list):
        return [resolve(item, context) for item in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Get"}:
        return context[value["Get"]]
    if set(value) == {"Std:Join"}:
        join = value["Std:Join"]
        return join["On"].join(_text(resolve(item, context)) for item in join["Values"])
    if set(value) == {"Std:JsonGet"}:
        get = value["Std:JsonGet"]
        data = context[get["PropertyFile"]["Get"]]
        for key in get["Path"].split("."):
            data = data[key]
        return data
    return {key: resolve(item, context) for key, item in value.items()}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parameter_context(definition: Mapping[str, Any], **overrides: Any) -> dict[str, Any]:
    """Return {"Parameters.<name>": value}: the defaults with `overrides` on top."""
    values = {param["Name"]: param["DefaultValue"] for param in definition["Parameters"]}
    unknown = set(overrides) - set(values)
    assert not unknown, f"not pipeline parameters: {unknown}"
    values.update(overrides)
    return {f"Parameters.{name}": value for name, value in values.items()}


def steps_by_name(definition: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Return every step, the condition's branches included, by name."""
    found = {}
    for step in definition["Steps"]:
        found[step["Name"]] = step
        for branch in ("IfSteps", "ElseSteps"):
            for inner in step["Arguments"].get(branch, []):
                found[inner["Name"]] = inner
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# ----- fixtures -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pipeline_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a default project whose training node also carries a tag (for tag grouping)."""
    project = render(tmp_path_factory.mktemp("smpipe") / "churn-prediction")
    training = project / "src" / PACKAGE / "pipelines" / "training" / "pipeline.py"
    text = training.read_text()
    assert 'name="train_model",' in text
    training.write_text(text.replace('name="train_model",', 'name="train_model", tags=["fit"],'))
    return project


@pytest.fixture(scope="module")
def compiled(command_server: CommandServer, pipeline_project: Path) -> dict[str, Any]:
    """Return the definition `kedro sagemaker pipeline compile` writes, with AWS unreachable."""
    output = pipeline_project.parent / "definition.json"
    result, _ = command_server.run(
        "sagemaker", "pipeline", "compile",
        "--image-uri", IMAGE, "--role-arn", ROLE, "--output", str(output),
        # No credentials and a closed port: any AWS call would fail the command.
        env={
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        },
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(output.read_text())


@pytest.fixture(scope="module")
def settings_yaml(pipeline_project: Path) -> dict[str, Any]:
    import yaml

    return yaml.safe_load((pipeline_project / "conf" / "base" / "sagemaker.yml").read_text())


@pytest.fixture(scope="module")
def promotion_yaml(pipeline_project: Path) -> dict[str, Any]:
    import yaml

    path = pipeline_project / "conf" / "base" / "parameters_promotion.yml"
    return yaml.safe_load(path.read_text())["promotion"]


# ----- the compiled definition --------------------------------------------------------------------
def test_steps_order_and_dependencies(compiled: dict[str, Any]) -> None:
    top = [(step["Name"], step["Type"]) for step in compiled["Steps"]]
    assert top == [
        ("DataProcessing", "Processing"),
        ("TrainEvaluateExplain", "Training"),
        ("PromotionGate", "Processing"),
        ("PromoteChallenger", "Condition"),
    ]
    steps = steps_by_name(compiled)
    assert "DependsOn" not in steps["DataProcessing"]
    assert steps["TrainEvaluateExplain"]["DependsOn"] == ["DataProcessing"]
    assert steps["PromotionGate"]["DependsOn"] == ["TrainEvaluateExplain"]
    condition = steps["PromoteChallenger"]["Arguments"]
    assert [s["Name"] for s in condition["IfSteps"]] == ["RegisterModel"]
    assert [s["Type"] for s in condition["IfSteps"]] == ["RegisterModel"]
    assert [(s["Name"], s["Type"]) for s in condition["ElseSteps"]] == [
        ("ChallengerNotPromoted", "Fail")
    ]
    # No SageMaker Experiments trial per execution: MLflow records the runs.
    assert compiled.get("PipelineExperimentConfig") is None


def test_parameters_come_from_settings_and_the_promotion_rule(
    compiled: dict[str, Any], settings_yaml: dict[str, Any], promotion_yaml: dict[str, Any]
) -> None:
    params = {p["Name"]: (p["Type"], p["DefaultValue"]) for p in compiled["Parameters"]}
    expected = {
        "ProcessingInstanceType": ("String", settings_yaml["processing"]["instance_type"]),
        "ProcessingInstanceCount": ("Integer", settings_yaml["processing"]["instance_count"]),
        "TrainingInstanceType": ("String", settings_yaml["training"]["instance_type"]),
        "TrainingInstanceCount": ("Integer", settings_yaml["training"]["instance_count"]),
        "InputBatchVersion": ("String", ""),
        "ModelApprovalStatus": ("String", settings_yaml["pipeline"]["approval_status"]),
        "PromotionPrimaryMetric": ("String", promotion_yaml["primary_metric"]),
        "PromotionMinImprovement": ("Float", promotion_yaml["min_improvement"]),
    }
    for metric, tolerance in promotion_yaml["guards"].items():
        name = "PromotionGuard" + "".join(part.capitalize() for part in metric.split("_"))
        expected[name] = ("Float", tolerance)
    assert params == expected
    assert settings_yaml["pipeline"]["approval_status"] == "PendingManualApproval"


def test_processing_step_runs_its_pipeline_in_the_image(
    compiled: dict[str, Any], settings_yaml: dict[str, Any]
) -> None:
    arguments = steps_by_name(compiled)["DataProcessing"]["Arguments"]
    assert arguments["AppSpecification"]["ImageUri"] == IMAGE
    assert arguments["RoleArn"] == ROLE
    cluster = arguments["ProcessingResources"]["ClusterConfig"]
    assert cluster["InstanceType"] == {"Get": "Parameters.ProcessingInstanceType"}
    assert cluster["InstanceCount"] == {"Get": "Parameters.ProcessingInstanceCount"}
    assert cluster["VolumeSizeInGB"] == settings_yaml["processing"]["volume_size_gb"]
    assert (
        arguments["StoppingCondition"]["MaxRuntimeInSeconds"]
        == settings_yaml["processing"]["max_runtime_seconds"]
    )
    kedro_env = settings_yaml["pipeline"]["kedro_env"]
    assert arguments["Environment"]["SAGEMAKER_KEDRO_ENV"] == kedro_env
    context = {
        "Execution.StartDateTime": "2026-11-30T08:30:05.123Z",
        "Execution.PipelineExecutionId": "abc123",
        **parameter_context(compiled, InputBatchVersion="2026-01-01T00.00.00.000Z"),
    }
    assert resolve(arguments["AppSpecification"]["ContainerArguments"], context) == [
        "step", "--name", "DataProcessing", "--env", kedro_env,
        "--pipelines", "data_processing",
        "--execution-start", "2026-11-30T08:30:05.123Z", "--execution-id", "abc123",
        "--load-version", f"{settings_yaml['pipeline']['input_dataset']}=2026-01-01T00.00.00.000Z",
    ]  # fmt: skip
    # Data moves through the S3 catalog: no channels, no processing inputs or outputs.
    assert "ProcessingInputs" not in arguments
    assert "ProcessingOutputConfig" not in arguments


def test_training_step_pins_the_earlier_steps_outputs(
    compiled: dict[str, Any], settings_yaml: dict[str, Any]
) -> None:
    arguments = steps_by_name(compiled)["TrainEvaluateExplain"]["Arguments"]
    assert arguments["AlgorithmSpecification"]["TrainingImage"] == IMAGE
    resources = arguments["ResourceConfig"]
    assert resources["InstanceType"] == {"Get": "Parameters.TrainingInstanceType"}
    assert resources["InstanceCount"] == {"Get": "Parameters.TrainingInstanceCount"}
    assert resources["VolumeSizeInGB"] == settings_yaml["training"]["volume_size_gb"]
    assert arguments["OutputDataConfig"]["S3OutputPath"] == settings_yaml["output_path"]
    hyper = resolve(
        arguments["HyperParameters"],
        {"Execution.StartDateTime": "S", "Execution.PipelineExecutionId": "E"},
    )
    assert hyper == {
        "_kedro_step": "TrainEvaluateExplain",
        "_kedro_pipelines": ",".join(settings_yaml["training"]["pipelines"]),
        "_kedro_execution_start": "S",
        "_kedro_execution_id": "E",
        # The two datasets the processing step wrote, loaded at this execution's version.
        "_kedro_pin_to_execution": "test_set,train_set",
    }
    names = sorted(d["Name"] for d in arguments["AlgorithmSpecification"]["MetricDefinitions"])
    assert names == sorted(settings_yaml["training"]["metrics"])
    for definition in arguments["AlgorithmSpecification"]["MetricDefinitions"]:
        assert definition["Regex"].startswith(f"^{definition['Name']}=")


def test_gate_writes_the_property_file_under_the_execution(
    compiled: dict[str, Any], settings_yaml: dict[str, Any], promotion_yaml: dict[str, Any]
) -> None:
    gate = steps_by_name(compiled)["PromotionGate"]
    assert gate["PropertyFiles"] == [
        {"PropertyFileName": "PromotionDecision", "OutputName": "gate", "FilePath": "decision.json"}
    ]
    outputs = gate["Arguments"]["ProcessingOutputConfig"]["Outputs"]
    assert [o["OutputName"] for o in outputs] == ["gate"]
    context = {
        "Execution.StartDateTime": "2026-11-30T08:30:05.123Z",
        "Execution.PipelineExecutionId": "exec42",
        **parameter_context(compiled, PromotionMinImprovement=0.01),
    }
    artifacts = settings_yaml["pipeline"]["artifacts_uri"].rstrip("/")
    assert resolve(outputs[0]["S3Output"]["S3Uri"], context) == f"{artifacts}/exec42/gate"
    assert outputs[0]["S3Output"]["LocalPath"] == "/opt/ml/processing/output/gate"
    arguments = resolve(gate["Arguments"]["AppSpecification"]["ContainerArguments"], context)
    pipeline = settings_yaml["pipeline"]
    assert arguments[:15] == [
        "gate", "--env", pipeline["kedro_env"],
        "--execution-start", "2026-11-30T08:30:05.123Z", "--execution-id", "exec42",
        "--model-dataset", pipeline["model_dataset"],
        "--holdout-dataset", pipeline["holdout_dataset"],
        "--model-package-group", pipeline["model_package_group"],
        # The gate's MLflow alias follows the package's approval (champion only if Approved).
        "--approval-status", pipeline["approval_status"],
    ]  # fmt: skip
    approval = gate["Arguments"]["AppSpecification"]["ContainerArguments"][14]
    assert approval == {"Get": "Parameters.ModelApprovalStatus"}
    params = dict(arg.split("=", 1) for arg in arguments[15:] if arg != "--param")
    assert params == {
        "promotion.primary_metric": promotion_yaml["primary_metric"],
        "promotion.min_improvement": "0.01",
        **{f"promotion.guards.{k}": str(float(v)) for k, v in promotion_yaml["guards"].items()},
    }


def test_condition_reads_promote_and_registration_attaches_metrics(
    compiled: dict[str, Any], settings_yaml: dict[str, Any]
) -> None:
    steps = steps_by_name(compiled)
    (condition,) = steps["PromoteChallenger"]["Arguments"]["Conditions"]
    assert condition == {
        "Type": "Equals",
        "LeftValue": {
            "Std:JsonGet": {
                "PropertyFile": {"Get": "Steps.PromotionGate.PropertyFiles.PromotionDecision"},
                "Path": "promote",
            }
        },
        "RightValue": True,
    }
    register = steps["RegisterModel"]["Arguments"]
    pipeline = settings_yaml["pipeline"]
    assert register["ModelPackageGroupName"] == pipeline["model_package_group"]
    assert register["ModelApprovalStatus"] == {"Get": "Parameters.ModelApprovalStatus"}
    (container,) = register["InferenceSpecification"]["Containers"]
    assert container["Image"] == IMAGE
    assert container["ModelDataUrl"] == {
        "Get": "Steps.TrainEvaluateExplain.ModelArtifacts.S3ModelArtifacts"
    }
    context = {"Execution.PipelineExecutionId": "exec42"}
    statistics = resolve(register["ModelMetrics"]["ModelQuality"]["Statistics"], context)
    artifacts = pipeline["artifacts_uri"].rstrip("/")
    assert statistics == {
        "ContentType": "application/json",
        "S3Uri": f"{artifacts}/exec42/gate/model_quality.json",
    }
    # The package names the MLflow version the gate recorded (decision.json), and the execution.
    metadata = register["CustomerMetadataProperties"]
    assert metadata["mlflow_model_version"] == {
        "Std:JsonGet": {
            "PropertyFile": {"Get": "Steps.PromotionGate.PropertyFiles.PromotionDecision"},
            "Path": "mlflow_model_version",
        }
    }
    gate_wrote = {
        "Steps.PromotionGate.PropertyFiles.PromotionDecision": {"mlflow_model_version": "7"}
    }
    assert resolve(metadata, {**context, **gate_wrote}) == {
        "sagemaker_pipeline_execution_id": "exec42",
        "promotion_decision": f"{artifacts}/exec42/gate/decision.json",
        "mlflow_model_version": "7",
    }
    fail = steps["ChallengerNotPromoted"]["Arguments"]["ErrorMessage"]
    message = resolve(
        fail,
        {"Steps.PromotionGate.PropertyFiles.PromotionDecision": {"reason": "roc_auc fell"}},
    )
    assert message == "The challenger was not promoted: roc_auc fell"


# ----- grouping variants (one driver process) -----------------------------------------------------
GROUPING_DRIVER = textwrap.dedent(
    """
    import json, os, sys, warnings
    from dataclasses import replace
    from pathlib import Path
    import boto3
    os.environ["SAGEMAKER_VALIDATE_ROLE"] = "false"
    from {package}.sagemaker.pipeline import commands, grouping
    from {package}.sagemaker.pipeline.settings import StepSettings

    project = commands.load_project(Path.cwd(), None)
    project.jobs.update(image_uri={image!r}, role_arn={role!r})
    nodes, _ = commands._node_specs()
    session = boto3.Session(region_name="eu-west-1")
    results = {{}}
    for name, steps in json.loads(Path(sys.argv[1]).read_text()).items():
        try:
            settings = project.settings.model_copy(
                update={{"steps": [StepSettings(**step) for step in steps]}}
            )
            groups = grouping.group_nodes(settings.steps, nodes, project.catalog)
            pipeline = commands.build(replace(project, settings=settings, groups=groups), session)
            results[name] = {{"definition": json.loads(pipeline.definition())}}
        except (grouping.GroupingError, ValueError) as error:
            results[name] = {{"error": f"{{type(error).__name__}}: {{error}}"}}
    Path(sys.argv[2]).write_text(json.dumps(results))
    """
)

VARIANTS = {
    "one_step_per_pipeline": [
        {"name": "Process", "job": "processing", "pipelines": ["data_processing"]},
        {"name": "Train", "job": "training", "pipelines": ["training"]},
        {"name": "Evaluate", "job": "processing", "pipelines": ["evaluation"]},
        {"name": "Explain", "job": "processing", "pipelines": ["explainability"]},
    ],
    "by_tag_and_nodes": [
        {
            "name": "Prepare",
            "job": "processing",
            "nodes": ["validate_reference_schema", "prepare_reference_features", "split_data"],
        },
        {"name": "Fit", "job": "training", "tags": ["fit"]},
        {"name": "Report", "job": "processing", "pipelines": ["evaluation", "explainability"]},
    ],
    "splits_model_input": [
        {
            "name": "Validate",
            "job": "processing",
            "nodes": ["validate_reference_schema", "prepare_reference_features"],
        },
        {"name": "Split", "job": "processing", "nodes": ["split_data"]},
        {"name": "Train", "job": "training", "pipelines": ["training"]},
    ],
    "splits_shap_attribution": [
        {"name": "Process", "job": "processing", "pipelines": ["data_processing"]},
        {"name": "Train", "job": "training", "pipelines": ["training", "evaluation"]},
        {"name": "Explain", "job": "processing", "nodes": ["explain_model"]},
        {
            "name": "Plots",
            "job": "processing",
            "nodes": [
                "summarise_attribution",
                "plot_shap_beeswarm",
                "plot_shap_bar",
                "plot_shap_dependence",
                "compute_bias_metrics",
                "plot_bias_metrics",
                "write_explainability_report",
            ],
        },
    ],
    "consumer_before_producer": [
        {"name": "Train", "job": "training", "pipelines": ["training"]},
        {"name": "Process", "job": "processing", "pipelines": ["data_processing"]},
    ],
    "node_in_two_steps": [
        {"name": "Process", "job": "processing", "pipelines": ["data_processing"]},
        {"name": "Again", "job": "processing", "nodes": ["split_data"]},
        {"name": "Train", "job": "training", "pipelines": ["training"]},
    ],
    "model_from_processing": [
        {"name": "Process", "job": "processing", "pipelines": ["data_processing"]},
        {"name": "Train", "job": "processing", "pipelines": ["training", "evaluation"]},
    ],
}


@pytest.fixture(scope="module")
def variants(pipeline_project: Path) -> dict[str, dict[str, Any]]:
    folder = pipeline_project.parent
    (folder / "grouping_driver.py").write_text(
        GROUPING_DRIVER.format(package=PACKAGE, image=IMAGE, role=ROLE)
    )
    (folder / "variants.json").write_text(json.dumps(VARIANTS))
    result = subprocess.run(
        [sys.executable, str(folder / "grouping_driver.py"), str(folder / "variants.json"),
         str(folder / "variants_out.json")],
        cwd=pipeline_project,
        env=project_env(pipeline_project, {**FAKE_AWS, "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}),
        capture_output=True,
        text=True,
        timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads((folder / "variants_out.json").read_text())


def test_one_step_per_pipeline_chains_the_steps(variants: dict[str, Any]) -> None:
    definition = variants["one_step_per_pipeline"]["definition"]
    steps = steps_by_name(definition)
    top = [(s["Name"], s["Type"]) for s in definition["Steps"]]
    assert top == [
        ("Process", "Processing"),
        ("Train", "Training"),
        ("Evaluate", "Processing"),
        ("Explain", "Processing"),
        ("PromotionGate", "Processing"),
        ("PromoteChallenger", "Condition"),
    ]
    assert steps["Evaluate"]["DependsOn"] == ["Train"]
    assert steps["PromotionGate"]["DependsOn"] == ["Explain"]
    evaluate = steps["Evaluate"]["Arguments"]["AppSpecification"]["ContainerArguments"]
    pins = [evaluate[i + 1] for i, arg in enumerate(evaluate) if arg == "--pin-to-execution"]
    assert pins == ["model", "test_set"]
    explain = steps["Explain"]["Arguments"]["AppSpecification"]["ContainerArguments"]
    pins = [explain[i + 1] for i, arg in enumerate(explain) if arg == "--pin-to-execution"]
    assert pins == ["model", "test_predictions", "test_set"]
    # Only the step that reads the raw batch gets the batch version parameter.
    assert "--load-version" not in evaluate
    register = steps["RegisterModel"]["Arguments"]["InferenceSpecification"]["Containers"][0]
    assert register["ModelDataUrl"] == {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}


def test_tag_and_node_groups_select_exactly_their_nodes(variants: dict[str, Any]) -> None:
    steps = steps_by_name(variants["by_tag_and_nodes"]["definition"])
    prepare = steps["Prepare"]["Arguments"]["AppSpecification"]["ContainerArguments"]
    assert prepare[prepare.index("--nodes") + 1] == (
        "validate_reference_schema,prepare_reference_features,split_data"
    )
    assert prepare[prepare.index("--pipelines") + 1] == "data_processing"
    fit = steps["Fit"]["Arguments"]["HyperParameters"]
    assert fit["_kedro_tags"] == "fit"
    assert fit["_kedro_pipelines"] == "training"
    assert "_kedro_nodes" not in fit
    assert steps["Report"]["DependsOn"] == ["Fit"]


@pytest.mark.parametrize(
    ("variant", "names"),
    [
        ("splits_model_input", ["'model_input' (Validate -> Split)"]),
        ("splits_shap_attribution", ["'shap_attribution' (Explain -> Plots)"]),
    ],
)
def test_split_in_memory_dataset_is_a_compile_error_naming_it(
    variants: dict[str, Any], variant: str, names: list[str]
) -> None:
    error = variants[variant]["error"]
    assert error.startswith("GroupingError: this grouping splits in-memory dataset(s)")
    for name in names:
        assert name in error
    assert "conf/base/catalog.yml" in error


@pytest.mark.parametrize(
    ("variant", "message"),
    [
        ("consumer_before_producer", "step 'Train' reads 'train_set', which the later step"),
        ("node_in_two_steps", "node 'split_data' is chosen by step 'Process' and by step 'Again'"),
        ("model_from_processing", "'model' must be produced by a training step"),
    ],
)
def test_impossible_groupings_name_the_problem(
    variants: dict[str, Any], variant: str, message: str
) -> None:
    assert message in variants[variant]["error"]


def test_a_bad_step_setting_names_the_key(
    command_server: CommandServer, pipeline_project: Path
) -> None:
    local = pipeline_project / "conf" / "local" / "sagemaker.yml"
    import yaml

    conf = yaml.safe_load((pipeline_project / "conf" / "base" / "sagemaker.yml").read_text())
    conf["pipeline"]["steps"][0]["pipeline"] = ["data_processing"]  # typo: pipelines
    local.write_text(yaml.safe_dump({"pipeline": conf["pipeline"]}))
    try:
        result, _ = command_server.run("sagemaker", "pipeline", "status")
    finally:
        local.unlink()
    assert result.returncode != 0
    assert "steps.0.pipeline" in result.stderr
    assert "Extra inputs are not permitted" in result.stderr


# ----- against moto's server ----------------------------------------------------------------------
# One process runs this module's `kedro sagemaker pipeline ...` commands, one after another as a
# notebook would: the SDK's import (3.5 s of CPU) and Kedro's are paid once, not per command. Each
# request brings its arguments, environment and working folder; the reply has the command's own
# stdout, stderr and exit status, and every AWS request it sent (botocore's before-parameter-build
# event). FAKE_EXECUTION_STEPS answers ListPipelineExecutionSteps, which moto lacks.
SERVER = textwrap.dedent(
    """
    import contextlib, copy, io, json, os, sys, traceback

    # Replies go out on the original stdout; anything else written there (Kedro logs a line as
    # it is imported) lands in the log.
    replies = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    from {package}.sagemaker.pipeline import commands
    from kedro.framework.cli.cli import main

    captured = []
    original = commands._boto_session

    def session_with_capture(region):
        session = original(region)

        def record(params, model, **_):
            captured.append({{"operation": model.name, "params": copy.deepcopy(params)}})

        session.events.register("before-parameter-build", record)
        steps = os.environ.get("FAKE_EXECUTION_STEPS")
        if steps:
            from botocore.awsrequest import AWSResponse

            def answer(**_):
                http = AWSResponse("", 200, {{}}, None)
                return http, {{"PipelineExecutionSteps": json.loads(steps)}}

            session.events.register(
                "before-call.sagemaker.ListPipelineExecutionSteps", answer
            )
        return session

    commands._boto_session = session_with_capture
    for line in sys.stdin:
        request = json.loads(line)
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        sys.argv = ["kedro", *request["args"]]
        captured.clear()
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main()
                code = 0
            except SystemExit as stop:
                code = stop.code if isinstance(stop.code, int) else int(stop.code is not None)
                if isinstance(stop.code, str):
                    print(stop.code, file=sys.stderr)
            except BaseException:
                traceback.print_exc()
                code = 1
        reply = {{"returncode": code, "stdout": out.getvalue(), "stderr": err.getvalue(),
                 "captured": captured}}
        replies.write(json.dumps(reply, default=str) + "\\n")
        replies.flush()
    """
)


class CommandServer:
    """A running SERVER process in `project`: `run` sends it one `kedro` command there and
    returns what it did."""

    def __init__(self, project: Path):
        self.project = project
        script = project.parent / "command_server.py"
        script.write_text(SERVER.format(package=PACKAGE))
        self.log = project.parent / "command_server.log"
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, str(script)],
                cwd=project,
                env=project_env(project),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )

    def run(
        self, *args: str, env: Mapping[str, str] | None = None, timeout: float = 600
    ) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
        """Return (the exit status and output of `kedro ARGS` with the project's environment plus
        `env`, the AWS requests it sent)."""
        environment = project_env(self.project, env)
        request = {"args": list(args), "env": environment, "cwd": str(self.project)}
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        line = self.process.stdout.readline() if ready else ""
        if not line:
            self.process.kill()
            pytest.fail(f"`kedro {' '.join(args)}` got no reply:\n{self.log.read_text()[-4000:]}")
        reply = json.loads(line)
        result = subprocess.CompletedProcess(
            ["kedro", *args], reply["returncode"], reply["stdout"], reply["stderr"]
        )
        return result, reply["captured"]

    def close(self) -> None:
        self.process.stdin.close()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="module")
def command_server(pipeline_project: Path) -> Iterator[CommandServer]:
    """Return the module's SERVER process (see SERVER), stopped after the module."""
    server = CommandServer(pipeline_project)
    yield server
    server.close()


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """Return the URL of a moto server on 127.0.0.1 (stopped after the module)."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def aws_client(service: str, endpoint: str) -> Any:
    import boto3

    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="eu-west-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106 - moto accepts any key
    )


def drive(
    server: CommandServer, endpoint: str, *args: str, extra_env: Mapping[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
    """Run `kedro sagemaker pipeline ARGS` against `endpoint` in the command server."""
    env = {**FAKE_AWS, "AWS_ENDPOINT_URL": endpoint, **(extra_env or {})}
    options = ["--image-uri", IMAGE, "--role-arn", ROLE] if args[0] != "status" else []
    return server.run("sagemaker", "pipeline", *args, *options, env=env)


def requests_of(captured: list[dict[str, Any]], operation: str) -> list[dict[str, Any]]:
    return [c["params"] for c in captured if c["operation"] == operation]


@pytest.fixture(scope="module")
def upserted(
    command_server: CommandServer, moto_endpoint: str
) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
    result, captured = drive(command_server, moto_endpoint, "upsert")
    assert result.returncode == 0, result.stderr[-4000:]
    return result, captured


def test_upsert_creates_the_group_and_the_pipeline(
    upserted: tuple[Any, list[dict[str, Any]]],
    command_server: CommandServer,
    compiled: dict[str, Any],
    settings_yaml: dict[str, Any],
    moto_endpoint: str,
) -> None:
    result, captured = upserted
    pipeline = settings_yaml["pipeline"]
    (group,) = requests_of(captured, "CreateModelPackageGroup")
    assert group["ModelPackageGroupName"] == pipeline["model_package_group"]
    (create,) = requests_of(captured, "CreatePipeline")
    assert create["PipelineName"] == pipeline["name"]
    assert create["RoleArn"] == ROLE
    assert json.loads(create["PipelineDefinition"]) == compiled
    assert {"Key": "project", "Value": settings_yaml["tags"]["project"]} in create["Tags"]
    client = aws_client("sagemaker", moto_endpoint)
    stored = client.describe_pipeline(PipelineName=pipeline["name"])
    assert json.loads(stored["PipelineDefinition"]) == compiled
    assert (
        client.describe_model_package_group(ModelPackageGroupName=pipeline["model_package_group"])[
            "ModelPackageGroupName"
        ]
        == pipeline["model_package_group"]
    )
    assert f"model package group {pipeline['model_package_group']}: created" in result.stdout

    # A second upsert updates the pipeline and leaves the existing group alone.
    again, captured = drive(command_server, moto_endpoint, "upsert")
    assert again.returncode == 0, again.stderr[-4000:]
    assert requests_of(captured, "CreateModelPackageGroup") == []
    assert len(requests_of(captured, "UpdatePipeline")) == 1
    assert f"model package group {pipeline['model_package_group']}: exists" in again.stdout


def test_start_sends_overrides_and_status_shows_steps(
    upserted: Any,
    command_server: CommandServer,
    settings_yaml: dict[str, Any],
    moto_endpoint: str,
) -> None:
    result, captured = drive(
        command_server, moto_endpoint, "start",
        "-p", "TrainingInstanceType=ml.m5.2xlarge", "-p", "PromotionMinImprovement=0.02",
        "-p", "InputBatchVersion=2026-11-01T00.00.00.000Z",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    (start,) = requests_of(captured, "StartPipelineExecution")
    assert start["PipelineName"] == settings_yaml["pipeline"]["name"]
    assert sorted(start["PipelineParameters"], key=lambda p: p["Name"]) == [
        {"Name": "InputBatchVersion", "Value": "2026-11-01T00.00.00.000Z"},
        {"Name": "PromotionMinImprovement", "Value": "0.02"},
        {"Name": "TrainingInstanceType", "Value": "ml.m5.2xlarge"},
    ]
    arn = result.stdout.strip().splitlines()[-1].removeprefix("started ")
    client = aws_client("sagemaker", moto_endpoint)
    assert (
        client.describe_pipeline_execution(PipelineExecutionArn=arn)["PipelineExecutionArn"] == arn
    )

    bad, _ = drive(command_server, moto_endpoint, "start", "-p", "TrainingInstanceTyp=x")
    assert bad.returncode != 0
    assert "unknown pipeline parameter(s) TrainingInstanceTyp" in bad.stderr

    # moto "succeeds" every execution without running a step and lacks ListPipelineExecutionSteps:
    # the driver answers that call with a failed gate, as SageMaker reports one.
    fake_steps = [
        {"StepName": "DataProcessing", "StepStatus": "Succeeded"},
        {"StepName": "PromotionGate", "StepStatus": "Failed",
         "FailureReason": "ClientError: KeyError: 'equalized_odds_difference'"},
    ]  # fmt: skip
    shown, captured = drive(
        command_server, moto_endpoint, "status", "--limit", "3",
        extra_env={"FAKE_EXECUTION_STEPS": json.dumps(fake_steps)},
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr[-4000:]
    lines = shown.stdout.splitlines()
    header = next(line for line in lines if line.startswith(arn))
    assert "Succeeded" in header
    assert "  DataProcessing: Succeeded" in lines
    assert "  PromotionGate: Failed (ClientError: KeyError: 'equalized_odds_difference')" in lines
    (listing,) = requests_of(captured, "ListPipelineExecutions")
    assert listing["MaxResults"] == 3
    assert listing["SortOrder"] == "Descending"


def test_schedule_puts_an_eventbridge_schedule(
    upserted: Any,
    command_server: CommandServer,
    pipeline_project: Path,
    settings_yaml: dict[str, Any],
    moto_endpoint: str,
) -> None:
    import yaml

    local = pipeline_project / "conf" / "local" / "sagemaker.yml"
    conf = copy.deepcopy(settings_yaml["pipeline"])
    unset, _ = drive(command_server, moto_endpoint, "schedule")
    assert unset.returncode != 0
    assert "set pipeline.schedule.cron or pipeline.schedule.rate" in unset.stderr
    conf["schedule"]["cron"] = "0 6 ? * MON *"
    local.write_text(yaml.safe_dump({"pipeline": conf}))
    try:
        result, captured = drive(command_server, moto_endpoint, "schedule")
    finally:
        local.unlink()
    assert result.returncode == 0, result.stderr[-4000:]
    (create,) = requests_of(captured, "CreateSchedule")
    assert create["ScheduleExpression"] == "cron(0 6 ? * MON *)"
    assert create["State"] == "ENABLED"
    assert create["Target"]["RoleArn"] == ROLE
    assert create["Target"]["Arn"].endswith(f":pipeline/{conf['name']}")
    scheduler = aws_client("scheduler", moto_endpoint)
    stored = scheduler.get_schedule(Name=create["Name"])
    assert stored["ScheduleExpression"] == "cron(0 6 ? * MON *)"


def test_registration_request_creates_a_package_the_gate_then_finds(
    upserted: Any,
    compiled: dict[str, Any],
    settings_yaml: dict[str, Any],
    moto_endpoint: str,
    package: Any,
) -> None:
    """moto runs no step: the RegisterModel step's request, resolved, is sent as SageMaker would."""
    spec = package("sagemaker.pipeline.gate")
    client = aws_client("sagemaker", moto_endpoint)
    group = settings_yaml["pipeline"]["model_package_group"]
    assert spec.newest_approved_package(client, group) is None  # no champion yet
    register = steps_by_name(compiled)["RegisterModel"]["Arguments"]
    arns = []
    for execution in ("exec1", "exec2"):
        context = {
            **parameter_context(compiled),
            "Execution.PipelineExecutionId": execution,
            "Steps.TrainEvaluateExplain.ModelArtifacts.S3ModelArtifacts":
                f"s3://bucket/jobs/{execution}/output/model.tar.gz",
            # What the gate's decision.json says without a tracking server.
            "Steps.PromotionGate.PropertyFiles.PromotionDecision":
                {"mlflow_model_version": "none"},
        }  # fmt: skip
        request = resolve(register, context)
        assert request["ModelApprovalStatus"] == "PendingManualApproval"
        arns.append(client.create_model_package(**request)["ModelPackageArn"])
    described = client.describe_model_package(ModelPackageName=arns[0])
    assert described["ModelApprovalStatus"] == "PendingManualApproval"
    assert described["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"].endswith(
        "/exec1/gate/model_quality.json"
    )
    assert described["CustomerMetadataProperties"]["sagemaker_pipeline_execution_id"] == "exec1"
    assert described["CustomerMetadataProperties"]["mlflow_model_version"] == "none"
    # Pending packages are not champions; approving one (docs: approving a package) makes it so.
    assert spec.newest_approved_package(client, group) is None
    client.update_model_package(ModelPackageArn=arns[0], ModelApprovalStatus="Approved")
    champion = spec.newest_approved_package(client, group)
    assert champion["ModelPackageArn"] == arns[0]
    client.update_model_package(ModelPackageArn=arns[1], ModelApprovalStatus="Approved")
    assert spec.newest_approved_package(client, group)["ModelPackageArn"] == arns[1]


@pytest.fixture(scope="module")
def package(pipeline_project: Path) -> Iterator[Any]:
    """Return an importer of the rendered package's Kedro-free modules (undone afterwards)."""
    import importlib

    source = str(pipeline_project / "src")
    sys.path.insert(0, source)
    yield lambda name: importlib.import_module(f"{PACKAGE}.{name}")
    sys.path.remove(source)
    for name in [n for n in sys.modules if n == PACKAGE or n.startswith(f"{PACKAGE}.")]:
        del sys.modules[name]


# ----- the save version every step derives ------------------------------------------------------
def test_every_step_derives_one_sortable_kedro_save_version(package: Any) -> None:
    execution = package("sagemaker.pipeline.execution")
    version = execution.save_version_from_start("2026-11-30T08:30:05.123Z")
    assert version == "2026-11-30T08.30.05.123Z"
    assert execution.save_version_from_start("2026-11-30T09:30:05.123+01:00") == version
    assert execution.save_version_from_start("2026-11-30 08:30:05.123456") == version
    later = execution.save_version_from_start("2026-11-30T08:30:06Z")
    assert sorted([later, version]) == [version, later]
    with pytest.raises(ValueError, match="not an ISO 8601"):
        execution.save_version_from_start("yesterday")
    run = execution.StepRun.build(
        name="S", pipelines="a,b", tags="", nodes="", execution_start="2026-11-30T08:30:05.123Z",
        execution_id="e", pin_to_execution=["train_set"], load_versions=["customers=", "x=v1"],
    )  # fmt: skip
    assert run.pipelines == ("a", "b")
    assert dict(run.load_versions) == {"train_set": version, "x": "v1"}
    with pytest.raises(ValueError, match="train_set: pinned to this execution"):
        execution.StepRun.build(
            name="S", pipelines="a", tags="", nodes="", execution_start="2026-11-30T08:30:05Z",
            execution_id="e", pin_to_execution=["train_set"], load_versions=["train_set=v"],
        )  # fmt: skip


# ----- infra/: the drift trigger as CloudFormation ------------------------------------------------
INFRA = Path("infra") / "drift-retraining.yaml"
# Resource types moto's CloudFormation skips (with a warning); the test creates each through
# its service API with the template's own properties instead.
MOTO_SKIPS = {"AWS::CloudWatch::Alarm", "AWS::SNS::TopicPolicy", "AWS::SNS::Subscription"}


def cfn_template(project: Path) -> dict[str, Any]:
    """Return the rendered template parsed (long-form intrinsic functions: plain YAML)."""
    import yaml

    return yaml.safe_load((project / INFRA).read_text())


def test_cfn_template_is_cfn_lint_clean(pipeline_project: Path) -> None:
    result = subprocess.run(
        [str(VENV_BIN / "cfn-lint"), str(pipeline_project / INFRA)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


def test_cfn_template_wires_alarm_rule_guard_and_topic(
    pipeline_project: Path, settings_yaml: dict[str, Any]
) -> None:
    template = cfn_template(pipeline_project)
    resources = template["Resources"]
    assert template["Parameters"]["PipelineName"]["Default"] == settings_yaml["pipeline"]["name"]
    alarm = resources["DriftAlarm"]["Properties"]
    assert alarm["MetricName"] == {"Ref": "MetricName"}
    assert template["Parameters"]["MetricName"]["Default"] == "DatasetDriftShare"
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    rule = resources["DriftRule"]["Properties"]
    assert rule["EventPattern"]["detail"] == {"state": {"value": ["ALARM"]}}
    assert [t["Id"] for t in rule["Targets"]] == ["guard", "people"]
    # Least privilege: the guard may list and start this one pipeline, and publish to the topic.
    (policy,) = resources["GuardRole"]["Properties"]["Policies"]
    statements = policy["PolicyDocument"]["Statement"]
    assert statements[0]["Action"] == [
        "sagemaker:ListPipelineExecutions",
        "sagemaker:StartPipelineExecution",
    ]
    assert statements[0]["Resource"]["Fn::Sub"].endswith(":pipeline/${PipelineName}")
    assert statements[1] == {
        "Effect": "Allow",
        "Action": "sns:Publish",
        "Resource": {"Ref": "NotificationTopic"},
    }
    permission = resources["GuardInvokePermission"]["Properties"]
    assert permission["SourceArn"] == {"Fn::GetAtt": ["DriftRule", "Arn"]}
    assert resources["GuardFunction"]["Properties"]["ReservedConcurrentExecutions"] == 1


def wait_for_stack(cfn: Any, name: str) -> dict[str, Any]:
    """Return the stack once it leaves *_IN_PROGRESS (at most 60 s)."""
    deadline = time.monotonic() + 60
    while True:
        stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
        if not stack["StackStatus"].endswith("_IN_PROGRESS") or time.monotonic() > deadline:
            return stack
        time.sleep(1)


# moto warns for each type it skips; MOTO_SKIPS below pins exactly which ones may be skipped.
@pytest.mark.filterwarnings("ignore:Tried to parse AWS.* not supported by moto:UserWarning")
def test_cfn_template_deploys_into_moto(pipeline_project: Path, moto_endpoint: str) -> None:
    template = cfn_template(pipeline_project)
    cfn = aws_client("cloudformation", moto_endpoint)
    cfn.create_stack(
        StackName="drift",
        TemplateBody=(pipeline_project / INFRA).read_text(),
        Capabilities=["CAPABILITY_IAM"],
        Parameters=[{"ParameterKey": "NotificationEmail", "ParameterValue": "ml@example.com"}],
    )
    stack = wait_for_stack(cfn, "drift")
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    created = {
        r["LogicalResourceId"]: r["ResourceType"]
        for r in cfn.list_stack_resources(StackName="drift")["StackResourceSummaries"]
        if r["LogicalResourceId"]
    }
    declared = {name: body["Type"] for name, body in template["Resources"].items()}
    assert created == {k: v for k, v in declared.items() if v not in MOTO_SKIPS}

    events = aws_client("events", moto_endpoint)
    rule_name = outputs["DriftRuleArn"].rsplit("/", 1)[1]
    pattern = json.loads(events.describe_rule(Name=rule_name)["EventPattern"])
    alarm_arn = f"arn:aws:cloudwatch:eu-west-1:123456789012:alarm:{outputs['DriftAlarmName']}"
    assert pattern["resources"] == [alarm_arn]
    targets = {t["Id"]: t["Arn"] for t in events.list_targets_by_rule(Rule=rule_name)["Targets"]}
    assert targets["people"] == outputs["NotificationTopicArn"]
    function = aws_client("lambda", moto_endpoint).get_function(
        FunctionName=outputs["GuardFunctionName"]
    )["Configuration"]
    assert targets["guard"] == function["FunctionArn"]
    assert (
        function["Environment"]["Variables"]["PIPELINE_NAME"]
        == (template["Parameters"]["PipelineName"]["Default"])
    )

    # Stand-ins for what moto's CloudFormation skips: the same properties through the APIs.
    alarm = template["Resources"]["DriftAlarm"]["Properties"]
    params = {name: body["Default"] for name, body in template["Parameters"].items()}
    cloudwatch = aws_client("cloudwatch", moto_endpoint)
    cloudwatch.put_metric_alarm(
        AlarmName=outputs["DriftAlarmName"],
        Namespace=params["MetricNamespace"],
        MetricName=params["MetricName"],
        Dimensions=[
            {"Name": "Model", "Value": params["ModelDimension"]},
            {"Name": "Environment", "Value": params["EnvironmentDimension"]},
        ],
        Statistic=alarm["Statistic"],
        Period=int(params["AlarmPeriodSeconds"]),
        EvaluationPeriods=alarm["EvaluationPeriods"],
        Threshold=float(params["DriftThreshold"]),
        ComparisonOperator=alarm["ComparisonOperator"],
        TreatMissingData=alarm["TreatMissingData"],
    )
    (stored,) = cloudwatch.describe_alarms(AlarmNames=[outputs["DriftAlarmName"]])["MetricAlarms"]
    assert stored["AlarmArn"] == alarm_arn  # the ARN the rule matches


GUARD_EVENT = {
    "source": "aws.cloudwatch",
    "detail-type": "CloudWatch Alarm State Change",
    "detail": {"state": {"value": "ALARM"}, "alarmName": "drift"},
}


def test_guard_starts_once_and_never_over_a_running_execution(
    upserted: Any,
    pipeline_project: Path,
    settings_yaml: dict[str, Any],
    moto_endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The guard's inline code, run against moto (EventBridge delivers nothing in moto)."""
    import boto3
    from botocore.awsrequest import AWSResponse

    template = cfn_template(pipeline_project)
    code = template["Resources"]["GuardFunction"]["Properties"]["Code"]["ZipFile"]
    namespace: dict[str, Any] = {}
    exec(compile(code, "guard.py", "exec"), namespace)  # noqa: S102 - the template's own code
    name = settings_yaml["pipeline"]["name"]
    topic = aws_client("sns", moto_endpoint).create_topic(Name="people")["TopicArn"]
    for key, value in {**FAKE_AWS, "AWS_ENDPOINT_URL": moto_endpoint}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("PIPELINE_NAME", name)
    monkeypatch.setenv("TOPIC_ARN", topic)
    client = aws_client("sagemaker", moto_endpoint)
    before = len(client.list_pipeline_executions(PipelineName=name)["PipelineExecutionSummaries"])

    started = namespace["handler"](GUARD_EVENT, None)
    assert started["running"] == []
    listed = client.list_pipeline_executions(PipelineName=name)["PipelineExecutionSummaries"]
    assert len(listed) == before + 1
    assert started["started"] in {e["PipelineExecutionArn"] for e in listed}

    # moto finishes every execution at once; SageMaker reports a running one as Executing.
    published: list[dict[str, Any]] = []
    original_client = boto3.client

    def client_with_running(service: str, *args: Any, **kwargs: Any) -> Any:
        made = original_client(service, *args, **kwargs)
        if service == "sagemaker":

            def running(**_: Any) -> Any:
                summary = {"PipelineExecutionArn": started["started"],
                           "PipelineExecutionStatus": "Executing"}  # fmt: skip
                return AWSResponse("", 200, {}, None), {"PipelineExecutionSummaries": [summary]}

            made.meta.events.register("before-call.sagemaker.ListPipelineExecutions", running)
        if service == "sns":
            made.meta.events.register(
                "before-parameter-build.sns.Publish", lambda params, **_: published.append(params)
            )
        return made

    monkeypatch.setattr(boto3, "client", client_with_running)
    refused = namespace["handler"](GUARD_EVENT, None)
    assert refused == {"started": None, "running": [started["started"]]}
    listed_after = client.list_pipeline_executions(PipelineName=name)["PipelineExecutionSummaries"]
    assert len(listed_after) == before + 1
    (message,) = published
    assert message["TopicArn"] == topic
    assert "still running; not started" in message["Message"]


# ----- one MLflow run per execution --------------------------------------------------------------
def test_steps_runs_nest_under_one_execution_run(package: Any, tmp_path: Path) -> None:
    from mlflow import MlflowClient

    linking = package("sagemaker.pipeline.execution_run")
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.create_experiment("e", artifact_location=(tmp_path / "a").as_uri())
    version = "2026-11-30T08.30.05.123Z"
    # What the tracking hook records for each step's Kedro run, plus another execution's run.
    first = client.create_run(experiment, run_name=version, tags={"kedro.save_version": version})
    other = client.create_run(experiment, tags={"kedro.save_version": "2026-11-29T00.00.00.000Z"})
    parent = linking.execution_run_id(client, experiment, "exec1", version)
    assert linking.adopt_step_runs(client, experiment, parent, version, "DataProcessing") == [
        first.info.run_id
    ]
    second = client.create_run(experiment, run_name=version, tags={"kedro.save_version": version})
    assert linking.execution_run_id(client, experiment, "exec1", version) == parent  # found again
    assert linking.adopt_step_runs(client, experiment, parent, version, "Train") == [
        second.info.run_id
    ]
    tags = {run: client.get_run(run).data.tags for run in (first.info.run_id, second.info.run_id)}
    assert {t["mlflow.parentRunId"] for t in tags.values()} == {parent}
    assert [t["sagemaker.pipeline_step"] for t in tags.values()] == ["DataProcessing", "Train"]
    assert "mlflow.parentRunId" not in client.get_run(other.info.run_id).data.tags
    linking.log_decision(
        client,
        parent,
        {"promote": False, "reason": "roc_auc fell", "challenger_metrics": {"roc_auc": 0.7},
         "champion_metrics": {"roc_auc": 0.8}},
    )  # fmt: skip
    run = client.get_run(parent)
    assert run.data.tags["promotion.promote"] == "false"
    assert run.data.metrics == {"gate.challenger.roc_auc": 0.7, "gate.champion.roc_auc": 0.8}
    assert run.data.tags["sagemaker.pipeline_execution_id"] == "exec1"


# ----- the compiled steps, run for real in the project's image ------------------------------------
def _run_step_container(
    image: str, root: Path, env: Mapping[str, str], args: list[str]
) -> subprocess.CompletedProcess[str]:
    """Run one job in the image as SageMaker would: /opt/ml mounted, the step's environment."""
    from test_docker import docker, writable_tree

    writable_tree(root)
    flags = [item for key, value in env.items() for item in ("-e", f"{key}={value}")]
    return docker(
        "run", "--rm", "--network", "host", "--cpus", "1", "--memory", "4g",
        "-e", "OMP_NUM_THREADS=1", *flags, "-v", f"{root}:/opt/ml", image, *args,
        check=False,
    )  # fmt: skip


def _s3_split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def run_execution(
    definition: Mapping[str, Any],
    image: str,
    workdir: Path,
    job_env: Mapping[str, str],
    s3: Any,
    sagemaker: Any,
    execution_id: str,
    start: str,
    overrides: Mapping[str, Any],
) -> dict[str, Any]:
    """Run every step of `definition` in order, as SageMaker would; return what each produced.

    Processing steps get their ContainerArguments; the training step its HyperParameters in
    /opt/ml/input/config/hyperparameters.json, and its /opt/ml/model is packed into
    model.tar.gz at the output path. The gate's output folder is uploaded to its S3Uri and its
    property file decides the condition the way JsonGet reads it; the branch that wins runs.
    """
    import io
    import tarfile

    context: dict[str, Any] = {
        **parameter_context(definition, **overrides),
        "Execution.StartDateTime": start,
        "Execution.PipelineExecutionId": execution_id,
    }
    outcome: dict[str, Any] = {"logs": {}}
    for step in definition["Steps"]:
        name, arguments = step["Name"], step["Arguments"]
        root = workdir / execution_id / name
        root.mkdir(parents=True)
        root.chmod(0o777)
        env = {**job_env, **resolve(arguments.get("Environment", {}), context)}
        if step["Type"] == "Processing":
            outputs = arguments.get("ProcessingOutputConfig", {}).get("Outputs", [])
            for output in outputs:
                local = Path(output["S3Output"]["LocalPath"]).relative_to("/opt/ml")
                (root / local).mkdir(parents=True)
            args = resolve(arguments["AppSpecification"]["ContainerArguments"], context)
            started = time.perf_counter()
            result = _run_step_container(image, root, env, args)
            print(f"[smpipe] {execution_id} {name}: {time.perf_counter() - started:.0f} s")
            outcome["logs"][name] = result.stdout + result.stderr
            assert result.returncode == 0, f"{name}: {result.stdout[-3000:]}{result.stderr[-5000:]}"
            for output in outputs:
                local = root / Path(output["S3Output"]["LocalPath"]).relative_to("/opt/ml")
                bucket, prefix = _s3_split(resolve(output["S3Output"]["S3Uri"], context))
                for path in local.rglob("*"):
                    if path.is_file():
                        key = f"{prefix}/{path.relative_to(local).as_posix()}"
                        s3.upload_file(str(path), bucket, key)
            for spec in step.get("PropertyFiles", []):
                output = next(o for o in outputs if o["OutputName"] == spec["OutputName"])
                local = root / Path(output["S3Output"]["LocalPath"]).relative_to("/opt/ml")
                data = json.loads((local / spec["FilePath"]).read_text())
                context[f"Steps.{name}.PropertyFiles.{spec['PropertyFileName']}"] = data
                outcome[spec["PropertyFileName"]] = data
        elif step["Type"] == "Training":
            config = root / "input" / "config"
            config.mkdir(parents=True)
            (config / "hyperparameters.json").write_text(
                json.dumps(resolve(arguments["HyperParameters"], context))
            )
            (root / "model").mkdir()
            started = time.perf_counter()
            result = _run_step_container(image, root, env, ["train"])
            print(f"[smpipe] {execution_id} {name}: {time.perf_counter() - started:.0f} s")
            outcome["logs"][name] = result.stdout + result.stderr
            assert result.returncode == 0, f"{name}: {result.stdout[-3000:]}{result.stderr[-5000:]}"
            buffer = io.BytesIO()
            with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
                for path in (root / "model").iterdir():
                    archive.add(path, arcname=path.name)
            bucket, prefix = _s3_split(arguments["OutputDataConfig"]["S3OutputPath"])
            key = f"{prefix.rstrip('/')}/{execution_id}-{name}/output/model.tar.gz"
            s3.put_object(Bucket=bucket, Key=key, Body=buffer.getvalue())
            context[f"Steps.{name}.ModelArtifacts.S3ModelArtifacts"] = f"s3://{bucket}/{key}"
        else:
            assert step["Type"] == "Condition"
            (condition,) = arguments["Conditions"]
            assert condition["Type"] == "Equals"
            holds = resolve(condition["LeftValue"], context) == condition["RightValue"]
            (taken,) = arguments["IfSteps" if holds else "ElseSteps"]
            outcome["branch"] = taken["Name"]
            if taken["Type"] == "RegisterModel":
                request = resolve(taken["Arguments"], context)
                outcome["package"] = sagemaker.create_model_package(**request)["ModelPackageArn"]
            else:
                outcome["failure"] = resolve(taken["Arguments"]["ErrorMessage"], context)
    return outcome


@pytest.mark.docker
@pytest.mark.s3
def test_compiled_steps_run_in_the_image_and_the_gate_decides(
    upserted: Any,  # `upsert` made the model package group, as in real use
    compiled: dict[str, Any],
    pipeline_project: Path,
    settings_yaml: dict[str, Any],
    moto_endpoint: str,
    tmp_path_factory: pytest.TempPathFactory,
    project_image: str,  # noqa: F811 - the fixture imported above
    seaweed: Any,  # noqa: F811 - the fixture imported above
) -> None:
    """Two executions through SeaweedFS: the first registers a champion, the second's equal
    challenger loses the gate (no improvement), and every artefact sits under its save version."""
    from seaweedfs import ADMIN_KEYS

    image = project_image

    s3 = seaweed.client()
    bucket = _s3_split(settings_yaml["pipeline"]["artifacts_uri"])[0]
    s3.create_bucket(Bucket=bucket)
    s3_env = {
        "AWS_ENDPOINT_URL_S3": seaweed.endpoint,
        "AWS_ACCESS_KEY_ID": ADMIN_KEYS[0],
        "AWS_SECRET_ACCESS_KEY": ADMIN_KEYS[1],
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    for name in ("customers", "customers_current"):
        upload = kedro(
            pipeline_project, "versions", "upload", name, f"data/01_raw/{name}.csv",
            "--env", "aws", env=s3_env,
        )  # fmt: skip
        assert upload.returncode == 0, upload.stderr[-3000:]
    job_env = {
        **s3_env,
        "AWS_DEFAULT_REGION": "eu-west-1",
        # The gate asks SageMaker (moto here) for the champion.
        "AWS_ENDPOINT_URL_SAGEMAKER": moto_endpoint,
        "KEDRO_TRACKING_ENABLED": "false",
    }
    sagemaker = aws_client("sagemaker", moto_endpoint)
    group = settings_yaml["pipeline"]["model_package_group"]
    for package in sagemaker.list_model_packages(ModelPackageGroupName=group)[
        "ModelPackageSummaryList"
    ]:  # an earlier test's packages point at no real model: reject them
        sagemaker.update_model_package(
            ModelPackageArn=package["ModelPackageArn"], ModelApprovalStatus="Rejected"
        )
    workdir = tmp_path_factory.mktemp("executions")

    first = run_execution(
        compiled, image, workdir, job_env, s3, sagemaker,
        "exec0001", "2026-11-30T08:30:05.123Z", {"ModelApprovalStatus": "Approved"},
    )  # fmt: skip
    decision = first["PromotionDecision"]
    assert decision["promote"] is True
    assert decision["champion"] is None
    assert decision["save_version"] == "2026-11-30T08.30.05.123Z"
    assert first["branch"] == "RegisterModel"
    described = sagemaker.describe_model_package(ModelPackageName=first["package"])
    assert described["ModelApprovalStatus"] == "Approved"
    # No tracking server in the containers: MLflow records nothing, the package says so.
    assert decision["mlflow_model_version"] == "none"
    assert described["CustomerMetadataProperties"]["mlflow_model_version"] == "none"
    quality_uri = described["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]
    quality = json.loads(s3.get_object(Bucket=bucket, Key=_s3_split(quality_uri)[1])["Body"].read())
    metric = decision["primary_metric"]
    assert quality["binary_classification_metrics"]["auc" if metric == "roc_auc" else metric][
        "value"
    ] == pytest.approx(decision["challenger"])
    # Every step wrote under the one save version of the execution.
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    for dataset in ("train_set.parquet", "model.pkl", "evaluation_metrics.json"):
        assert any(f"/{dataset}/2026-11-30T08.30.05.123Z/" in key for key in keys), dataset
    assert (
        "pipeline step TrainEvaluateExplain: execution exec0001"
        in first["logs"]["TrainEvaluateExplain"]
    )
    # Each Kedro step wrote a part of the run manifest; the gate (after every step) merged them,
    # so readers of the bucket see the execution's versions as one complete run.
    version = "2026-11-30T08.30.05.123Z"
    parts = sorted(k.rsplit("/", 1)[1] for k in keys if f"/run_manifest.json/{version}/steps/" in k)
    assert parts == ["DataProcessing.json", "TrainEvaluateExplain.json"]
    manifest_key = next(k for k in keys if k.endswith(f"/{version}/run_manifest.json"))
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=manifest_key)["Body"].read())
    assert (manifest["kind"], manifest["run_id"]) == ("execution", "exec0001")
    assert {"train_set", "model", "evaluation_metrics"} <= set(manifest["datasets"])
    assert set(manifest["datasets"].values()) == {version}

    # Same data, same parameters: the challenger equals the champion, so it is not promoted.
    second = run_execution(
        compiled, image, workdir, job_env, s3, sagemaker,
        "exec0002", "2026-11-30T09:00:00.000Z", {},
    )  # fmt: skip
    decision = second["PromotionDecision"]
    assert decision["champion_version"] == first["package"]
    assert decision["promote"] is False
    assert abs(decision["improvement"]) < decision["min_improvement"]
    assert second["branch"] == "ChallengerNotPromoted"
    assert second["failure"] == f"The challenger was not promoted: {decision['reason']}"
    assert "less than the required" in decision["reason"]
    assert any("/model.pkl/2026-11-30T09.00.00.000Z/" in o["Key"]
               for o in s3.list_objects_v2(Bucket=bucket)["Contents"])  # fmt: skip
