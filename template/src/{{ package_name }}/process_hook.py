"""The Kedro hook that freezes what `kedro run` loaded before its first node (process.py)."""

from __future__ import annotations

from kedro.framework.hooks import hook_impl

from .process import freeze_loaded, is_run_command, resume_after_start_up


class FreezeAfterStartUpHook:
    """Freeze what `kedro run` loaded before its first node: the later imports (SHAP, MLflow,
    GX in the nodes that use them) then walk only what came after. Then turn the collector on
    again, which `kedro run` keeps off during its start-up (the package's `__init__.py`).

    Only in `kedro run`, which runs one pipeline per process: a notebook or a test runs many,
    and freezing there would keep their earlier runs' garbage cycles for good.
    """

    @hook_impl(trylast=True)
    def before_pipeline_run(self) -> None:
        """Freeze after every other hook has set the run up; collect again from here on."""
        if is_run_command():
            freeze_loaded()
        resume_after_start_up()
