"""The `pipeline:` section of conf/<env>/sagemaker.yml, validated (no defaults here: the YAML)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# SageMaker names of pipelines, steps and model package groups.
_NAME = re.compile(r"^[A-Za-z0-9](-*[A-Za-z0-9]){0,255}$")
_STEP_NAME = re.compile(r"^[A-Za-z0-9\-_]{1,64}$")
APPROVAL_STATUSES = ("PendingManualApproval", "Approved", "Rejected")
# Step names the compiler adds after the grouped steps.
GATE_STEP = "PromotionGate"
CONDITION_STEP = "PromoteChallenger"
REGISTER_STEP = "RegisterModel"
FAIL_STEP = "ChallengerNotPromoted"
RESERVED_STEP_NAMES = (GATE_STEP, CONDITION_STEP, REGISTER_STEP, FAIL_STEP)


class StepSettings(BaseModel):
    """One grouped step: a name, a job kind and exactly one way of choosing its nodes."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    name: str
    job: Literal["processing", "training"]
    # Exactly one of these three selects the step's nodes (the others stay empty).
    pipelines: list[str] = []
    tags: list[str] = []
    nodes: list[str] = []

    @field_validator("name")
    @classmethod
    def _check_name(cls, name: str) -> str:
        if not _STEP_NAME.match(name):
            raise ValueError(
                f"step name {name!r} must be 1-64 letters, digits, hyphens or underscores"
            )
        if name in RESERVED_STEP_NAMES:
            raise ValueError(f"step name {name!r} is taken by a step the compiler adds")
        return name

    @model_validator(mode="after")
    def _one_selector(self) -> StepSettings:
        given = [key for key in ("pipelines", "tags", "nodes") if getattr(self, key)]
        if len(given) != 1:
            raise ValueError(
                f"step {self.name!r} must choose its nodes with exactly one of pipelines, tags "
                f"or nodes; it gives {', '.join(given) or 'none'}"
            )
        return self

    @property
    def selector(self) -> tuple[str, tuple[str, ...]]:
        """Return (how, names): the one selector this step uses."""
        for key in ("pipelines", "tags", "nodes"):
            if getattr(self, key):
                return key, tuple(getattr(self, key))
        raise AssertionError("validated: one selector is set")


class ScheduleSettings(BaseModel):
    """The schedule `kedro sagemaker pipeline schedule` puts on EventBridge Scheduler."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    name: str | None
    cron: str | None
    rate: str | None
    enabled: bool
    # The role EventBridge Scheduler assumes to start the pipeline; null: the pipeline's role.
    role_arn: str | None

    @model_validator(mode="after")
    def _at_most_one(self) -> ScheduleSettings:
        if self.cron and self.rate:
            raise ValueError("schedule: set cron or rate, not both")
        if self.rate and not re.match(r"^\d+ (minute|minutes|hour|hours|day|days)$", self.rate):
            raise ValueError(
                f"schedule.rate {self.rate!r} must look like '7 days' or '1 hour' "
                "(EventBridge rate units: minute(s), hour(s), day(s))"
            )
        return self

    def expression(self) -> tuple[str, str] | None:
        """Return ("cron", text) or ("rate", text), or None when no schedule is set."""
        if self.cron:
            return "cron", self.cron
        if self.rate:
            return "rate", self.rate
        return None


class PipelineSettings(BaseModel):
    """The `pipeline:` section of sagemaker.yml: the compiled SageMaker Pipeline."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    name: str
    description: str
    # The role SageMaker Pipelines assumes to create the steps' jobs; null: `role_arn` above.
    role_arn: str | None
    kedro_env: str
    artifacts_uri: str
    model_package_group: str
    approval_status: str
    model_dataset: str
    holdout_dataset: str
    input_dataset: str
    inference_content_types: list[str]
    steps: list[StepSettings] = Field(min_length=1)
    schedule: ScheduleSettings

    @field_validator("name", "model_package_group")
    @classmethod
    def _check_resource_name(cls, name: str) -> str:
        if not _NAME.match(name):
            raise ValueError(
                f"{name!r} must be letters, digits and single hyphens, starting and ending "
                "with a letter or digit (a SageMaker resource name)"
            )
        return name

    @field_validator("artifacts_uri")
    @classmethod
    def _check_uri(cls, uri: str) -> str:
        if not uri.startswith("s3://") or len(uri) <= len("s3://"):
            raise ValueError(f"artifacts_uri {uri!r} must be an s3:// URI")
        return uri.rstrip("/")

    @field_validator("approval_status")
    @classmethod
    def _check_status(cls, status: str) -> str:
        if status not in APPROVAL_STATUSES:
            raise ValueError(
                f"approval_status {status!r} must be one of {', '.join(APPROVAL_STATUSES)}"
            )
        return status

    @model_validator(mode="after")
    def _unique_steps(self) -> PipelineSettings:
        names = [step.name for step in self.steps]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"step names must be unique; repeated: {', '.join(twice)}")
        return self
