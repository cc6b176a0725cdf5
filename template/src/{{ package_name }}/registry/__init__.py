"""The model registry, the promotion gate and automated retraining (docs: closed-loop).

Kedro-free rules: `promotion` (the gate), `champion` (loading the model in service),
`registration`, `aliases` (moves and their audit trail), `retraining` (policy, cooldown, lock).
Kedro wiring: `hook` (registers each successful run), `dataset` (catalog entry `champion_model`),
`cli` (`kedro model ...`) and `retrain` (`kedro retrain`).
"""
