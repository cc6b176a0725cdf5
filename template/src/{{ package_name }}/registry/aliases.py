"""Moving the `champion` and `challenger` aliases, each move recorded (Kedro-free).

Every change is written twice: as a tag `audit.<time>.<alias>` on the registered model (so any
MLflow server holds the history, whoever moved the alias) and as one JSON line appended to a
local log. A tag key is never reused, so the registry's record is append-only too.
"""

from __future__ import annotations

import getpass
import json
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from .champion import CHALLENGER, CHAMPION

AUDIT_TAG_PREFIX = "audit."
# Why an alias moved.
ChangeKind = Literal["first_model", "registered", "promoted", "rolled_back", "manual"]


class AliasError(RuntimeError):
    """An alias change that must not happen (unknown version, no previous champion, a race)."""


@dataclass(frozen=True)
class AliasChange:
    """One move of an alias: what, from which version to which, when, by whom and why."""

    model_name: str
    alias: str
    version: str
    previous_version: str | None
    kind: ChangeKind
    reason: str
    changed_at: str
    user: str
    # The promotion decision (artefact path or MLflow run) behind the change, if any.
    decision: str | None

    def to_dict(self) -> dict[str, Any]:
        """Return the change as plain JSON-ready data."""
        return asdict(self)

    def to_json(self) -> str:
        """Return the change as one line of JSON."""
        return json.dumps(self.to_dict(), sort_keys=True)


def os_user() -> str:
    """Return the OS user running this process (for the audit trail)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        return f"uid:{os.getuid()}"


def alias_version(client: Any, model_name: str, alias: str) -> str | None:
    """Return the version `alias` points to, or None when it points nowhere."""
    from mlflow.exceptions import MlflowException

    try:
        return str(client.get_model_version_by_alias(model_name, alias).version)
    except MlflowException:
        return None


def move_alias(
    client: Any,
    model_name: str,
    alias: str,
    version: str,
    *,
    kind: ChangeKind,
    reason: str,
    decision: str | None = None,
    audit_log: Path | None = None,
) -> AliasChange:
    """Return the recorded change after pointing `alias` at `version` of `model_name`."""
    if not reason.strip():
        raise AliasError("an alias change needs a reason (--reason)")
    client.get_model_version(model_name, version)  # raises for an unknown version
    change = AliasChange(
        model_name=model_name,
        alias=alias,
        version=str(version),
        previous_version=alias_version(client, model_name, alias),
        kind=kind,
        reason=reason.strip(),
        changed_at=datetime.now(UTC).isoformat(timespec="microseconds"),
        user=os_user(),
        decision=decision,
    )
    client.set_registered_model_alias(model_name, alias, str(version))
    stamp = change.changed_at.replace(":", "").replace("-", "").replace("+0000", "Z")
    client.set_registered_model_tag(
        model_name, f"{AUDIT_TAG_PREFIX}{stamp}.{alias}", change.to_json()
    )
    client.set_model_version_tag(model_name, str(version), f"{alias}.since", change.changed_at)
    if audit_log is not None:
        audit_log.parent.mkdir(parents=True, exist_ok=True)
        with audit_log.open("a", encoding="utf-8") as log:  # append-only
            log.write(change.to_json() + "\n")
    return change


def clear_alias(client: Any, model_name: str, alias: str) -> None:
    """Remove `alias` if it is set (the challenger alias after its version became champion)."""
    if alias_version(client, model_name, alias) is not None:
        client.delete_registered_model_alias(model_name, alias)


def alias_history(client: Any, model_name: str) -> list[AliasChange]:
    """Return every recorded alias change of `model_name`, oldest first."""
    tags = client.get_registered_model(model_name).tags
    changes = [
        AliasChange(**json.loads(value))
        for key, value in sorted(tags.items())
        if key.startswith(AUDIT_TAG_PREFIX)
    ]
    return sorted(changes, key=lambda change: change.changed_at)


def previous_champion(history: list[AliasChange]) -> str | None:
    """Return the version a rollback restores: the champion before the current one.

    Champions form a stack: a promotion pushes, a rollback pops. So two rollbacks in a row go
    back two champions, and never bounce between the same two versions.
    """
    stack: list[str] = []
    for change in history:
        if change.alias != CHAMPION:
            continue
        if change.kind == "rolled_back":
            if stack:
                stack.pop()
        else:
            stack.append(change.version)
    return stack[-2] if len(stack) >= 2 else None


__all__ = [
    "CHALLENGER",
    "CHAMPION",
    "AliasChange",
    "AliasError",
    "alias_history",
    "alias_version",
    "clear_alias",
    "move_alias",
    "previous_champion",
]
