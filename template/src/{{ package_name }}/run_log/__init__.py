"""The run's log: quiet by default, and ending with a short summary (decision 0017).

`warning_filters` silences dependency warnings a user can do nothing about (settings.py installs
it); `run_summary` (Kedro-free) and `run_summary_hook` end every `kedro run` with what ran, where
its outputs are, and its MLflow run.
"""
