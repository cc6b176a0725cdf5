"""SageMaker jobs for this project: the container entrypoint and the `kedro sagemaker` launchers.

Nothing here imports the SageMaker SDK at import time; the launch commands import it when run.
"""
