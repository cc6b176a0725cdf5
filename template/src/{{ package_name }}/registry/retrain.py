"""`kedro retrain`: monitor the newest batch, retrain when needed, promote through the gate.

The order is the safety: take the lock; stop in the cooldown; stop when no batch is new; run
monitoring against the champion; train a challenger (registered with no alias); score champion
and challenger on the same holdout; decide; record the decision; only then move aliases, after
checking the champion did not change meanwhile. Any error before that last step leaves every
alias as it was.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import click

from .cli import ENV_OPTION, Refused, RegistryTarget

logger = logging.getLogger(__name__)

LOCK_FILE = Path("data/09_registry/retrain.lock")
DECISION_DATASET = "promotion_decision"
MONITORING_PIPELINE = "retraining_monitoring"
TRAINING_PIPELINE = "retraining"
# With no labelled batch at all the training set is the reference: the default training run.
REFERENCE_ONLY_PIPELINE = "__default__"
# The champion's own artefacts that monitoring compares the newest batch with.
CHAMPION_INPUTS = ("model", "train_set", "test_set", "evaluation_metrics")


def _split_params(ctx: click.Context, param: Any, value: Any) -> Any:
    from kedro.framework.cli.utils import _split_params as split

    return split(ctx, param, value)


@click.command(name="retrain")
@click.option(
    "--force", is_flag=True, help="Retrain whatever monitoring says, even with no new batch."
)
@click.option(
    "--params",
    default="",
    callback=_split_params,
    help="Runtime parameters for every run, as `kedro run --params` takes them "
    "(e.g. training.hyperparameters.max_iter=50,retraining.min_hours_between_retrains=0).",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the outcome JSON here (the scheduled workflow uploads it).",
)
@ENV_OPTION
def retrain(force: bool, params: dict[str, Any], output: Path | None, env: str | None) -> None:
    """Monitor the newest labelled batch; retrain and apply the promotion gate when needed.

    Exits 0 when it retrained or had nothing to do (the outcome says which), 2 when it refused
    (another retrain holds the lock, or the champion changed while it ran).
    """
    from .cli import registry_target
    from .retraining import RetrainLock, RetrainRefused

    target = registry_target(env)
    try:
        with RetrainLock(target.project_path / LOCK_FILE):
            outcome = Retrain(target, env, params, force).run()
    except RetrainRefused as error:
        raise Refused(str(error)) from error
    text = outcome.to_json()
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text + "\n", encoding="utf-8")
    click.echo(text)
    verdict = "PROMOTED" if outcome.promoted else outcome.action.upper()
    click.secho(f"retrain: {verdict}: {outcome.reason}", fg="green" if outcome.promoted else None)


class Retrain:
    """One `kedro retrain`, step by step (each step a method, in `run`'s order)."""

    def __init__(
        self, target: RegistryTarget, env: str | None, params: dict[str, Any], force: bool
    ) -> None:
        from .registration import registry_client
        from .retraining import now_utc

        self.target = target
        self.env = env
        self.params = params
        self.force = force
        self.client = registry_client(target.registry_uri)
        self.started = now_utc()
        self.facts: dict[str, Any] = {}

    # ----- Kedro sessions -------------------------------------------------------------------------
    def _session(self) -> Any:
        from kedro.framework.session import KedroSession

        return KedroSession.create(
            project_path=self.target.project_path, env=self.env, runtime_params=self.params
        )

    def _context(self) -> Any:
        with self._session() as session:
            return session.load_context()

    def _run(self, pipeline: str, load_versions: dict[str, str] | None = None) -> tuple[str, Any]:
        """Run `pipeline` in a new session; return (its save version, the error it raised)."""
        from ..core.monitoring.verdict_exit import MonitoringVerdictExit

        with self._session() as session:
            save_version = session.session_id
            try:
                session.run(pipeline_names=[pipeline], load_versions=load_versions or {})
            # A failing monitoring verdict ends a monitoring run with MonitoringVerdictExit (a
            # SystemExit, no traceback); here it is the retrain's input, read from the report.
            except (Exception, MonitoringVerdictExit) as error:
                return save_version, error
        return save_version, None

    # ----- the steps ------------------------------------------------------------------------------
    def run(self) -> Any:
        """Return the outcome of the whole retrain (raises on any failure: aliases untouched)."""
        from ..core.features import feature_spec
        from ..core.parameters import PromotionSettings, RetrainingSettings
        from .aliases import CHAMPION, alias_version
        from .registration import ensure_registered_model
        from .retraining import LAST_BATCH_TAG, LAST_RETRAIN_TAG, cooldown_left

        context = self._context()
        self.settings = RetrainingSettings(**context.params["retraining"])
        self.promotion = PromotionSettings(**context.params["promotion"])
        self.features = feature_spec(context.params["features"])
        self.evaluation = context.params["evaluation"]
        self.bias = context.params["explainability"]["bias"]
        name = self.target.model_name
        ensure_registered_model(self.client, name)
        state = self.client.get_registered_model(name).tags
        champion = alias_version(self.client, name, CHAMPION)
        batches = sorted(labelled_partitions(context.catalog))
        newest = batches[-1] if batches else None
        self.facts.update(newest_batch=newest, champion_version_before=champion)

        wait = cooldown_left(
            state.get(LAST_RETRAIN_TAG), self.settings.min_hours_between_retrains, self.started
        )
        if champion is not None and wait is not None:
            return self._skip(
                f"cooldown: the last retrain was at {state[LAST_RETRAIN_TAG]}; the next is "
                f"allowed in {wait.total_seconds() / 3600:.1f} h (min_hours_between_retrains)"
            )
        if champion is not None and newest is None:
            return self._skip("no labelled batch to monitor: nothing to do")
        if champion is not None and not self.force and newest == state.get(LAST_BATCH_TAG):
            return self._skip(
                f"no new data: the newest batch {newest!r} was already checked "
                f"({state.get('retraining.last_outcome', 'see the registry tags')}); nothing to do"
            )

        if champion is None:
            trigger = "no champion: the first model becomes champion"
        elif self.force:
            # The verdict would not change what happens: spare the monitoring run.
            trigger = "--force (monitoring skipped)"
        else:
            level, monitoring_run = self._monitor(champion)
            self.facts.update(monitoring_level=level, monitoring_run_id=monitoring_run)
            from .retraining import reaches

            if reaches(level, self.settings.retrain_on):
                trigger = (
                    f"monitoring verdict {level!r} reaches retrain_on {self.settings.retrain_on!r}"
                )
            else:
                self._remember(newest, f"monitoring {level}: no retrain")
                return self._skip(
                    f"monitoring verdict {level!r} on {newest!r} is below retrain_on "
                    f"{self.settings.retrain_on!r}: the champion stays, no retrain"
                )
        self.facts["trigger"] = trigger
        return self._retrain(champion, newest)

    def _skip(self, reason: str) -> Any:
        from .retraining import RetrainOutcome, now_utc

        logger.info("retrain skipped: %s", reason)
        return RetrainOutcome(
            action="skipped",
            reason=reason,
            started_at=self.started.isoformat(),
            finished_at=now_utc().isoformat(),
            **self.facts,
        )

    def _remember(self, batch: str | None, outcome: str) -> None:
        """Record in the registry which batch the loop has dealt with, and how."""
        from .retraining import LAST_BATCH_TAG, LAST_OUTCOME_TAG

        name = self.target.model_name
        if batch is not None:
            self.client.set_registered_model_tag(name, LAST_BATCH_TAG, batch)
        self.client.set_registered_model_tag(name, LAST_OUTCOME_TAG, outcome)

    def _monitor(self, champion: str) -> tuple[str, str | None]:
        """Return (verdict level, MLflow run id) of monitoring the newest batch on the champion."""
        from .registration import SAVE_VERSION_TAG

        version = self.client.get_model_version(self.target.model_name, champion)
        champion_save = version.tags.get(SAVE_VERSION_TAG)
        load_versions = dict.fromkeys(CHAMPION_INPUTS, champion_save) if champion_save else {}
        save_version, error = self._run(MONITORING_PIPELINE, load_versions)
        self.facts["monitoring_save_version"] = save_version
        try:
            report = self._load("monitoring_report", save_version)
        except Exception:
            if error is not None:
                raise error from None  # monitoring itself broke: not a verdict
            raise
        from ..core.monitoring.results import MonitoringReport

        level = MonitoringReport.from_dict(report).level
        run_id = self._find_run(save_version)
        logger.info("monitoring of the newest batch: %s (MLflow run %s)", level, run_id)
        return level, run_id

    def _load(self, dataset: str, version: str) -> Any:
        with self._session() as session:
            catalog = session.load_context()._get_catalog(load_versions={dataset: version})
            return catalog.load(dataset)

    def _find_run(self, save_version: str) -> str | None:
        from .hook import tracking_settings
        from .registration import find_run

        experiment = tracking_settings(self._context()).experiment_name
        return find_run(self.client, experiment, save_version)

    def _retrain(self, champion: str | None, newest: str | None) -> Any:
        from .hook import deferred_aliases

        with deferred_aliases() as deferral:
            pipeline = TRAINING_PIPELINE if newest is not None else REFERENCE_ONLY_PIPELINE
            save_version, error = self._run(pipeline)
        if error is not None:
            raise error  # nothing registered: a failed run never reaches registration
        if not deferral.registered:
            raise click.ClickException(
                "the retraining run registered no model: is tracking disabled "
                "(tracking.yml, KEDRO_TRACKING_ENABLED)? The registry lives in the tracking store."
            )
        challenger = deferral.registered[-1]
        try:
            return self._judge(champion, challenger, save_version, newest)
        except Exception as error:
            self.client.set_model_version_tag(
                self.target.model_name,
                challenger.version,
                "retraining.outcome",
                f"failed before the decision: {type(error).__name__}: {error}"[:4000],
            )
            raise

    def _judge(
        self, champion: str | None, challenger: Any, save_version: str, newest: str | None
    ) -> Any:
        """Score both models on one holdout, decide, record, then move the aliases."""
        from .champion import load_model_by_alias
        from .holdout import holdout_metrics
        from .promotion import decide_promotion
        from .registration import load_version
        from .retraining import RetrainOutcome, now_utc

        name = self.target.model_name
        holdout, holdout_facts = self._holdout(champion, save_version)
        challenger_model = load_version(self.target.registry_uri, name, challenger.version)
        challenger_metrics = holdout_metrics(
            challenger_model, holdout, self.features, self.evaluation, self.bias
        ).to_dict()
        champion_metrics = None
        if champion is not None:
            served = load_model_by_alias(self.target.registry_uri, name, "champion")
            champion_metrics = holdout_metrics(
                served.model, holdout, self.features, self.evaluation, self.bias
            ).to_dict()
        decision = decide_promotion(
            challenger_metrics,
            champion_metrics,
            self.promotion,
            challenger_version=challenger.version,
            champion_version=champion,
        )
        logger.info("promotion gate: %s", decision.reason)
        outcome = RetrainOutcome(
            action="retrained",
            reason=decision.reason,
            started_at=self.started.isoformat(),
            finished_at=now_utc().isoformat(),
            training_run_id=challenger.run_id,
            save_version=save_version,
            training_set=self._training_set_summary(),
            holdout=holdout_facts,
            challenger_version=challenger.version,
            champion_version_after=challenger.version if decision.promote else champion,
            promoted=decision.promote,
            decision=decision.to_dict(),
            champion_metrics=champion_metrics,
            challenger_metrics=challenger_metrics,
            **self.facts,
        )
        decision_path = self._record(outcome, challenger, decision)
        changes = self._move_aliases(champion, challenger.version, decision, decision_path)
        verdict = "promoted" if decision.promote else "not promoted"
        self._remember(newest, f"retrained: v{challenger.version} {verdict}")
        self.client.set_registered_model_tag(
            name, "retraining.last_retrain_at", outcome.finished_at
        )
        from dataclasses import replace

        return replace(outcome, alias_changes=[change.to_dict() for change in changes])

    def _holdout(self, champion: str | None, save_version: str) -> tuple[Any, dict[str, Any]]:
        """Return the rows both models are scored on and what they are."""
        from .registration import SAVE_VERSION_TAG
        from .retraining import holdout_frame

        parts = [("challenger test set", self._load("test_set", save_version))]
        newest = self.facts["newest_batch"]
        if self.settings.training_set.holdout_newest_batch and newest is not None:
            parts.append((f"newest batch {newest}", self._prepared_batch(newest)))
        seen = None
        if self.features.id_column is None:
            # Without an id column a row cannot be matched to the champion's training set.
            logger.info("no id column: rows the champion trained on stay in the holdout")
        elif champion is not None:
            version = self.client.get_model_version(self.target.model_name, champion)
            try:
                train = self._load("train_set", version.tags[SAVE_VERSION_TAG])
                seen = train[self.features.id_column]
            except Exception as error:  # an old champion's files may be gone: say so, go on
                logger.warning("champion's training set not found (%s): no rows excluded", error)
        frame, dropped = holdout_frame(parts, seen, self.features.id_column)
        facts = {
            "parts": {label: len(part) for label, part in parts},
            "rows": len(frame),
            "dropped_seen_by_champion": dropped,
        }
        return frame, facts

    def _prepared_batch(self, name: str) -> Any:
        """Return labelled batch `name` checked and prepared as the model's input."""
        from ..core.features import prepare_features, validator_for

        raw = labelled_partitions(self._context().catalog)[name]()
        checked = validator_for(f"labelled batch {name}", require_target=True)(raw, self.features)
        return prepare_features(checked, self.features)

    def _training_set_summary(self) -> dict[str, Any]:
        from .retraining import training_frame

        context = self._context()
        batches = labelled_partitions(context.catalog)
        _, summary = training_frame(
            context.catalog.load("customers"),
            [(n, batches[n]()) for n in sorted(batches)],
            self.settings.training_set,
            self.features.target,
        )
        return summary.to_dict()

    def _record(self, outcome: Any, challenger: Any, decision: Any) -> str:
        """Save the decision as a versioned artefact and as MLflow tags; return where it is."""
        with self._session() as session:
            catalog = session.load_context()._get_catalog(save_version=outcome.save_version)
            # Asked before saving: a versioned dataset refuses to name a path that exists.
            path = str(catalog.get(DECISION_DATASET)._get_save_path())
            catalog.save(DECISION_DATASET, outcome.to_dict())
        name = self.target.model_name
        tags = {
            "promotion.promote": str(decision.promote).lower(),
            "promotion.reason": decision.reason[:4000],
            "promotion.champion_version": str(decision.champion_version),
            "promotion.decision_path": path,
            "retraining.trigger": str(outcome.trigger),
            "retraining.newest_batch": str(outcome.newest_batch),
            "retraining.monitoring_run_id": str(outcome.monitoring_run_id),
        }
        for key, value in tags.items():
            self.client.set_model_version_tag(name, challenger.version, key, value)
            if challenger.run_id:
                self.client.set_tag(challenger.run_id, key, value)
        if challenger.run_id:
            self.client.log_text(
                challenger.run_id, outcome.to_json(), "retraining/promotion_decision.json"
            )
        if outcome.monitoring_run_id and challenger.run_id:
            self.client.set_tag(
                outcome.monitoring_run_id, "retraining.training_run_id", challenger.run_id
            )
        return path

    def _move_aliases(
        self, champion: str | None, version: str, decision: Any, decision_path: str
    ) -> list[Any]:
        from .aliases import CHALLENGER, CHAMPION, alias_version, clear_alias, move_alias
        from .retraining import RetrainRefused

        name = self.target.model_name
        record = {"decision": decision_path, "audit_log": self.target.audit_log}
        if champion is None:
            first = move_alias(
                self.client, name, CHAMPION, version, kind="first_model", reason=decision.reason,
                **record,
            )  # fmt: skip
            return [first]
        if not decision.promote:
            lost = move_alias(
                self.client, name, CHALLENGER, version, kind="registered",
                reason=f"lost the promotion gate: {decision.reason}", **record,
            )  # fmt: skip
            return [lost]
        current = alias_version(self.client, name, CHAMPION)
        if current != champion:
            raise RetrainRefused(
                f"the champion moved from v{champion} to v{current} while this retrain ran: "
                f"v{version} was judged against v{champion}, so it is not promoted. "
                "Run `kedro retrain --force` to judge it against the new champion."
            )
        change = move_alias(
            self.client, name, CHAMPION, version, kind="promoted", reason=decision.reason,
            **record,
        )  # fmt: skip
        clear_alias(self.client, name, CHALLENGER)
        return [change]


def labelled_partitions(catalog: Any) -> dict[str, Any]:
    """Return the labelled batches (name -> loader); none when the folder holds no batch."""
    from kedro.io import DatasetError

    try:
        return dict(catalog.load("labelled_batches"))
    except DatasetError as error:
        if "No partitions found" not in str(error):
            raise
        return {}
