"""Kedro pipelines compiled into one SageMaker Pipeline (`kedro sagemaker pipeline ...`).

- `settings`: the `pipeline:` section of conf/<env>/sagemaker.yml, validated.
- `grouping`: which Kedro nodes run in which step; refuses groupings that would lose data.
- `definition`: the SageMaker SDK v3 objects (steps, parameters, condition) built from a grouping.
- `execution`: what every step of one execution shares (the Kedro save version).
- `execution_run`: one MLflow run per execution, the steps' runs nested under it.
- `gate`: the promotion gate step: champion and challenger scored on one holdout.
- `commands`: the Kedro CLI commands, the only module here that imports Kedro at import time
  (`gate` reuses the evaluation and bias nodes, imported when it scores).
"""
