"""The model registry and the promotion gate (Kedro-free: no Kedro import in this package)."""
