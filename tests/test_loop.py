"""The closed loop end to end, offline, on one rendered project (tests run in file order).

train → champion v1 → score → monitor (fails on drift) → retrain: v2 wins on the drifted
holdout → champion v2 → score again with v2; then idempotence, cooldown, a crippled challenger
that loses, a retrain that fails in training, rollback, and two concurrent retrains.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import copy_of, model_name, registry, run_in, start_in

pytestmark = [pytest.mark.e2e, pytest.mark.tracking]

NO_COOLDOWN = "retraining.min_hours_between_retrains=0"
REFUSED = 2


@pytest.fixture(scope="module")
def project(trained_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a copy of the trained default project (conftest's trained_run: a render after its
    first `kedro run`) for the whole loop."""
    return copy_of(trained_project, tmp_path_factory.mktemp("loop"))


def aliases(project: Path) -> dict[str, str]:
    """Return alias -> version of the project's registered model."""
    found = registry(project).get_registered_model(model_name(project)).aliases
    return {alias: str(version) for alias, version in found.items()}


def versions(project: Path) -> list[str]:
    found = registry(project).search_model_versions(f"name = '{model_name(project)}'")
    return sorted((str(v.version) for v in found), key=int)


def retrain(project: Path, *args: str, check: bool = True) -> tuple[Any, dict[str, Any] | None]:
    """Run `kedro retrain` with --output; return (process, outcome JSON or None)."""
    output = project / "retrain-outcome.json"
    output.unlink(missing_ok=True)
    result = run_in(project, "kedro", "retrain", "--output", str(output), *args, check=check)
    outcome = json.loads(output.read_text()) if output.exists() else None
    return result, outcome


def newest(project: Path, pattern: str) -> Path:
    found = sorted((project / "data").glob(pattern))
    assert found, f"nothing matches data/{pattern}"
    return found[-1]


def predictions_model_versions(project: Path) -> set[str]:
    """Return the model versions the newest batch predictions name."""
    import pandas as pd

    path = newest(project, "07_model_output/batch_predictions.parquet/*/*")
    frame = pd.read_parquet(path)
    return {str(v) for v in frame["model_version"].unique()}


class TestClosedLoop:
    def test_first_training_run_registers_the_champion(self, project):
        # The project's first `kedro run` (trained_run) registered its model.
        assert versions(project) == ["1"]
        assert aliases(project) == {"champion": "1"}
        version = registry(project).get_model_version(model_name(project), "1")
        assert "metric.roc_auc" in version.tags
        assert version.tags["kedro.save_version"]
        assert version.tags["git.commit"]
        listing = run_in(project, "kedro", "model", "list").stdout
        assert "champion" in listing and "save version" in listing

    def test_kedro_model_dataset_and_registry_champion_agree(self, project):
        script = textwrap.dedent(
            """
            import glob, pickle, sys, numpy as np, pandas as pd, yaml
            from mlflow import MlflowClient
            from {package}.registry.champion import load_champion
            uri = "sqlite:///" + sys.argv[1] + "/mlflow.db"
            name = yaml.safe_load(open("conf/base/globals.yml"))["registry"]["model_name"]
            served = load_champion(uri, name)
            tags = MlflowClient(uri, registry_uri=uri).get_model_version(name, served.version).tags
            save = tags["kedro.save_version"]
            kedro_model = pickle.load(open(f"data/06_models/model.pkl/{{save}}/model.pkl", "rb"))
            test = pd.read_parquet(
                f"data/05_model_input/test_set.parquet/{{save}}/test_set.parquet"
            )
            features = yaml.safe_load(open("conf/base/parameters.yml"))["features"]
            columns = [*features["numeric"], *features["categorical"]]
            a = kedro_model.predict_proba(test[columns])
            b = served.model.predict_proba(test[columns])
            assert np.array_equal(a, b), "the champion and the Kedro model differ"
            print("agree", served.version, save)
            """
        )
        package = next(p.name for p in (project / "src").iterdir() if (p / "settings.py").exists())
        result = run_in(project, "python", "-c", script.format(package=package), str(project))
        assert result.stdout.split()[:2] == ["agree", "1"]

    def test_scoring_names_the_champion(self, project):
        run_in(project, "kedro", "run", "--pipelines", "inference")
        assert predictions_model_versions(project) == {"1"}

    def test_monitoring_fails_on_the_drifted_batch(self, project):
        result = run_in(project, "kedro", "run", "--pipelines", "monitoring", check=False)
        assert result.returncode != 0
        report = json.loads(
            newest(project, "08_reporting/monitoring/monitoring_report.json/*/*").read_text()
        )
        assert report["level"] == "fail"

    def test_retrain_promotes_a_challenger_that_wins_on_the_drifted_holdout(self, project):
        result, outcome = retrain(project)
        assert outcome is not None, result.stdout[-3000:]
        assert outcome["action"] == "retrained"
        assert outcome["monitoring_level"] == "fail"
        assert outcome["promoted"] is True, outcome["reason"]
        decision = outcome["decision"]
        assert decision["challenger"] - decision["champion"] >= decision["min_improvement"]
        newest_batch = outcome["newest_batch"]
        assert outcome["training_set"]["held_out_batch"] == newest_batch
        assert any(newest_batch in part for part in outcome["holdout"]["parts"])
        assert aliases(project) == {"champion": "2"}
        # The decision is a versioned artefact, and MLflow links the two runs both ways.
        saved = json.loads(
            newest(project, "08_reporting/registry/promotion_decision.json/*/*").read_text()
        )
        assert saved["decision"] == decision
        client = registry(project)
        training_run = client.get_run(outcome["training_run_id"])
        assert (
            training_run.data.tags["retraining.monitoring_run_id"] == outcome["monitoring_run_id"]
        )
        assert training_run.data.tags["promotion.promote"] == "true"
        monitoring_run = client.get_run(outcome["monitoring_run_id"])
        assert monitoring_run.data.tags["retraining.training_run_id"] == outcome["training_run_id"]
        audit = (project / "data/09_registry/alias_changes.jsonl").read_text().splitlines()
        last = json.loads(audit[-1])
        assert (last["alias"], last["version"], last["previous_version"]) == ("champion", "2", "1")
        assert last["user"] and last["decision"]

    def test_scoring_uses_the_new_champion(self, project):
        run_in(project, "kedro", "run", "--pipelines", "inference")
        assert predictions_model_versions(project) == {"2"}

    def test_a_second_retrain_without_new_data_does_nothing(self, project):
        before = (versions(project), aliases(project))
        _, outcome = retrain(project, "--params", NO_COOLDOWN)
        assert outcome["action"] == "skipped"
        assert "no new data" in outcome["reason"]
        assert (versions(project), aliases(project)) == before

    def test_the_cooldown_stops_a_retrain(self, project):
        before = (versions(project), aliases(project))
        _, outcome = retrain(project, "--force")
        assert outcome["action"] == "skipped"
        assert "cooldown" in outcome["reason"]
        assert (versions(project), aliases(project)) == before

    def test_a_crippled_challenger_loses_and_the_champion_stays(self, project):
        crippled = f"{NO_COOLDOWN},training.hyperparameters.min_samples_leaf=1000000"
        _, outcome = retrain(project, "--force", "--params", crippled)
        assert outcome["action"] == "retrained"
        assert outcome["promoted"] is False
        assert outcome["challenger_metrics"]["roc_auc"] < 0.55  # near-random
        assert aliases(project) == {"champion": "2", "challenger": "3"}

    def test_a_retrain_that_fails_in_training_changes_no_alias(self, project):
        before = (versions(project), aliases(project))
        broken = f"{NO_COOLDOWN},training.hyperparameters.max_iter=-1"
        result, outcome = retrain(project, "--force", "--params", broken, check=False)
        assert result.returncode not in (0, REFUSED)
        assert outcome is None
        assert "max_iter" in result.stdout + result.stderr
        assert (versions(project), aliases(project)) == before

    def test_rollback_restores_the_previous_champion(self, project):
        result = run_in(project, "kedro", "model", "rollback", "--reason", "loop test")
        assert "champion 2 -> 1" in result.stdout
        assert aliases(project)["champion"] == "1"
        history = run_in(project, "kedro", "model", "history").stdout
        assert "rolled_back" in history and "loop test" in history

    def test_of_two_concurrent_retrains_at_most_one_promotes(self, project):
        audit = project / "data/09_registry/alias_changes.jsonl"
        seen = len(audit.read_text().splitlines())
        command = ("kedro", "retrain", "--force", "--params", NO_COOLDOWN)
        # Output goes to files: a full pipe would stall a process that logs a lot.
        logs = [project / f"concurrent-{i}.log" for i in range(2)]
        processes = [start_in(project, *command, output=log) for log in logs]
        codes = [process.wait(timeout=1500) for process in processes]
        results = [(code, log.read_text()) for code, log in zip(codes, logs, strict=True)]
        assert sorted(codes) == [0, REFUSED], [(code, out[-3000:]) for code, out in results]
        refused = next(out for code, out in results if code == REFUSED)
        assert "another retrain is running" in refused
        changes = [json.loads(line) for line in audit.read_text().splitlines()[seen:]]
        promotions = [c for c in changes if c["alias"] == "champion" and c["kind"] == "promoted"]
        assert len(promotions) <= 1
        expected = promotions[0]["version"] if promotions else "1"
        assert aliases(project)["champion"] == expected

    def test_monitoring_refuses_a_champion_trained_on_other_features(self, project):
        parameters = project / "conf/base/parameters.yml"
        shipped = parameters.read_text()
        features = yaml.safe_load(shipped)["features"]
        dropped = features["numeric"][-1]
        changed = yaml.safe_load(shipped)
        changed["features"]["numeric"] = features["numeric"][:-1]
        champion = aliases(project)["champion"]
        try:
            parameters.write_text(yaml.safe_dump(changed, sort_keys=False))
            result = run_in(project, "kedro", "run", "--pipelines", "monitoring", check=False)
        finally:
            parameters.write_text(shipped)
        output = result.stdout + (result.stderr or "")
        assert result.returncode == 1, output[-3000:]
        assert "Traceback" not in output
        (error,) = [line for line in output.splitlines() if line.startswith("Error: ")]
        assert f"the champion ({model_name(project)} version {champion})" in error
        assert f"not in the parameters: [{dropped!r}]" in error
        assert "kedro model promote" in error
