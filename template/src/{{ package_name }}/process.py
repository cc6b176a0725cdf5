"""This Python process as a whole: the Kedro command it runs, and its garbage collector.

A `kedro run` imports pandas, scikit-learn, SHAP, MLflow and Great Expectations: about a million
objects (modules, classes, functions) that live as long as the process. CPython's cyclic
collector walks every object it tracks in each full collection, and an import that allocates much
triggers one, so each large import walks again everything imported before it. Ending the
interpreter collects again, several times, while it tears the modules down, after the run's last
log line. On the default project that came to 0.4-1.2 s of full collections during a run and
0.9-2.2 s between the last log line and the exit (decision 0038:
docs/decisions/0038-freeze-what-lives-as-long-as-the-process.md).

`gc.freeze()` moves every object the collector tracks into a permanent generation that later
collections skip. Objects made afterwards are collected as before: a node's garbage is freed as
usual, whatever was frozen before it.

A `kedro run` also keeps the collector off during its start-up, which only imports and
configures, until the hook that freezes it (pause_for_run_start_up).

No Kedro here: the MLflow writer process (tracking/writer.py) freezes its imports too.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path


class _StartUpPause:
    """Whether pause_for_run_start_up turned the collector off (resume_after_start_up undoes it)."""

    active = False


def is_run_command() -> bool:
    """Return True inside Kedro's run command (`kedro run`, `python -m <package>`)."""
    import click  # imported already: Kedro's CLI is built on it

    command = click.get_current_context(silent=True)
    return command is not None and command.command.name == "run"


def is_kedro_run_process(argv: Sequence[str] | None = None) -> bool:
    """Return True in a process started as `kedro run`, from its command line (`argv`, by default
    this process's), before Kedro's CLI has parsed it: `kedro run ...`, `python -m kedro run ...`.
    """
    argv = sys.argv if argv is None else argv
    if not argv:
        return False
    program = Path(argv[0])
    if program.name != "kedro" and program.parent.name != "kedro":  # kedro/__main__.py
        return False
    words = [word for word in argv[1:] if not word.startswith("-")]
    return words[:1] == ["run"]


def pause_for_run_start_up() -> None:
    """In a `kedro run` process, collect nothing until the run is set up.

    Its start-up imports and configures: it makes next to no garbage, and each full collection
    walked everything imported so far (about 0.15 s before the first node). FreezeAfterStartUpHook
    freezes what the start-up loaded, then turns the collector on again (resume_after_start_up).
    """
    if gc.isenabled() and is_kedro_run_process():
        gc.disable()
        _StartUpPause.active = True


def resume_after_start_up() -> None:
    """Turn the collector on again if pause_for_run_start_up turned it off."""
    if _StartUpPause.active:
        _StartUpPause.active = False
        gc.enable()


def freeze_loaded() -> None:
    """Leave everything loaded so far out of every later collection.

    For what lives as long as the process (modules, configuration, the catalog). A cycle that is
    garbage already is never freed: call it after imports and set-up, not after work.
    """
    gc.freeze()


@contextlib.contextmanager
def importing() -> Iterator[None]:
    """Import in the block without collecting, then freeze what it loaded (`freeze_loaded`).

    Imports allocate much and free little: a collection during them walks what is loaded and
    finds next to nothing to free. For a block that only imports, as the MLflow writer's warm-up
    (about a fifth of the CPU of importing MLflow went to collections).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        freeze_loaded()
        if enabled:
            gc.enable()


def freeze_at_exit() -> None:
    """Freeze everything when the interpreter exits, so that its teardown does not walk it again.

    It runs after the exit handlers registered later (the MLflow writer's, MLflow's,
    multiprocessing's) and before the teardown. The teardown still frees every object that
    reference counting frees, so files and connections are closed; only cycles that are
    unreachable by then go back to the operating system without their finalizers, which Python
    does not promise at exit anyway.
    """
    atexit.register(gc.freeze)
