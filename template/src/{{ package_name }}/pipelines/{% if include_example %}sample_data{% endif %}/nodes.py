"""Seeded generator of the sample churn data set.

The data answers every pipeline a question with a known truth:

* Churn follows a logistic model (see `_churn_logit`). `contract_type` carries the largest effect
  (month-to-month customers churn far more), so it is the most informative feature:
  `MOST_INFORMATIVE_FEATURE`. `gender` is the sensitive attribute; it has no direct effect on
  churn but is correlated with `support_calls`, so a model can still treat groups differently.
* The current batch drifts on purpose: covariate drift in `DRIFTED_FEATURES` (shifted age,
  monthly charges and data usage, a new contract mix, an unseen payment method), and concept
  drift: support calls matter more and tenure less (`CONCEPT_DRIFT`), so the relation between
  features and target changes too.
* Later periods arrive as a sequence of labelled batches (`generate_labelled_batches`) whose
  drift grows step by step towards the current batch's, and the newest period's batch arrives
  without labels for scoring (`generate_scoring_batch`). The concept drift moves the true
  relation, so a model retrained on the labelled batches beats the reference model on the
  drifted distribution: the closed loop (score, monitor, retrain, promote) has an honest demo.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

MOST_INFORMATIVE_FEATURE = "contract_type"
DRIFTED_FEATURES = (
    "age",
    "monthly_charges",
    "total_charges",
    "data_usage_gb",
    "contract_type",
    "payment_method",
)
STABLE_FEATURES = ("region", "tenure_months", "support_calls")
UNSEEN_CATEGORY = ("payment_method", "digital_wallet")
CONCEPT_DRIFT = {"support_calls": (0.35, 0.9), "tenure_months": (-0.035, -0.01)}
CURRENT_CONTRACT_MIX = (0.45, 0.30, 0.25)
CURRENT_PAYMENT_MIX = {
    "card": 0.32,
    "bank_transfer": 0.22,
    "electronic_check": 0.24,
    "mailed_check": 0.14,
    UNSEEN_CATEGORY[1]: 0.08,
}

# The columns this generator writes, in the `features` layout of conf/base/parameters.yml (the
# sample's spec: tests that study the generator use it, whatever `features` the project now has).
SAMPLE_FEATURES: dict[str, Any] = {
    "target": "churned",
    "id_column": "customer_id",
    "numeric": [
        "age",
        "tenure_months",
        "monthly_charges",
        "total_charges",
        "support_calls",
        "data_usage_gb",
    ],
    "categorical": ["contract_type", "payment_method", "region"],
    "sensitive_attribute": "gender",
}
CONTRACT_TYPES = ("month_to_month", "one_year", "two_year")
PAYMENT_METHODS = ("card", "bank_transfer", "electronic_check", "mailed_check")
REGIONS = ("north", "south", "east", "west")
GENDERS = ("female", "male")


def _churn_logit(frame: pd.DataFrame, support_effect: float, tenure_effect: float) -> np.ndarray:
    """Return the true log-odds of churn for each row."""
    contract = frame["contract_type"].to_numpy()
    return (
        -2.0
        + 2.4 * (contract == "month_to_month")
        - 1.0 * (contract == "two_year")
        + tenure_effect * frame["tenure_months"].to_numpy()
        + support_effect * frame["support_calls"].to_numpy()
        + 0.012 * (frame["monthly_charges"].to_numpy() - 65.0)
        + 0.5 * (frame["payment_method"].to_numpy() == "electronic_check")
    )


def _generate_batch(
    n_rows: int,
    seed: int,
    *,
    age_shift: float = 0.0,
    charges_shift: float = 0.0,
    usage_shift: float = 0.0,
    contract_mix: tuple[float, float, float] = (0.55, 0.25, 0.20),
    payment_mix: dict[str, float] | None = None,
    support_effect: float = 0.35,
    tenure_effect: float = -0.035,
    id_prefix: str = "C",
) -> pd.DataFrame:
    """Return one batch of customers with a sampled `churned` label."""
    rng = np.random.default_rng(seed)
    payment_mix = payment_mix or {
        "card": 0.35,
        "bank_transfer": 0.25,
        "electronic_check": 0.25,
        "mailed_check": 0.15,
    }
    gender = rng.choice(GENDERS, size=n_rows)
    contract = rng.choice(CONTRACT_TYPES, size=n_rows, p=contract_mix)
    tenure = np.clip(rng.exponential(24.0, n_rows), 0, 72).astype(int)
    monthly = np.clip(
        rng.normal(65.0 + charges_shift, 20.0, n_rows) + 8.0 * (contract == "month_to_month"),
        15.0,
        180.0,
    ).round(2)
    total = (monthly * np.maximum(tenure, 1) * rng.uniform(0.95, 1.05, n_rows)).round(2)
    total[rng.random(n_rows) < 0.01] = np.nan
    support = rng.poisson(1.2 + 0.6 * (gender == "female"), n_rows)
    frame = pd.DataFrame(
        {
            "customer_id": [f"{id_prefix}{seed:03d}-{i:06d}" for i in range(n_rows)],
            "age": np.clip(rng.normal(45.0 + age_shift, 14.0, n_rows), 18, 90).astype(int),
            "tenure_months": tenure,
            "monthly_charges": monthly,
            "total_charges": total,
            "support_calls": support,
            "data_usage_gb": np.exp(rng.normal(2.5 + usage_shift, 0.6, n_rows)).round(3),
            "contract_type": contract,
            "payment_method": rng.choice(
                list(payment_mix), size=n_rows, p=list(payment_mix.values())
            ),
            "region": rng.choice(REGIONS, size=n_rows),
            "gender": gender,
        }
    )
    probability = 1.0 / (1.0 + np.exp(-_churn_logit(frame, support_effect, tenure_effect)))
    frame["churned"] = (rng.random(n_rows) < probability).astype(int)
    return frame


def generate_reference_batch(params: dict[str, Any]) -> pd.DataFrame:
    """Return the reference (training) batch: `params['reference_rows']` rows, seeded."""
    return _generate_batch(params["reference_rows"], params["seed"], id_prefix="R")


def _drifted_settings(strength: float) -> dict[str, Any]:
    """Return `_generate_batch` keyword arguments for drift `strength` (0 = reference, 1 = current).

    Every shift, mix and effect moves linearly from the reference's value to the current batch's.
    """
    reference_payments = {
        "card": 0.35,
        "bank_transfer": 0.25,
        "electronic_check": 0.25,
        "mailed_check": 0.15,
        UNSEEN_CATEGORY[1]: 0.0,
    }
    payments = {
        method: (1.0 - strength) * share + strength * CURRENT_PAYMENT_MIX[method]
        for method, share in reference_payments.items()
    }
    total = sum(payments.values())
    return {
        "age_shift": 6.0 * strength,
        "charges_shift": 12.0 * strength,
        "usage_shift": 0.4 * strength,
        "contract_mix": tuple(
            (1.0 - strength) * ref + strength * cur
            for ref, cur in zip((0.55, 0.25, 0.20), CURRENT_CONTRACT_MIX, strict=True)
        ),
        "payment_mix": {method: share / total for method, share in payments.items()},
        "support_effect": _interpolate(CONCEPT_DRIFT["support_calls"], strength),
        "tenure_effect": _interpolate(CONCEPT_DRIFT["tenure_months"], strength),
    }


def _interpolate(bounds: tuple[float, float], strength: float) -> float:
    return (1.0 - strength) * bounds[0] + strength * bounds[1]


def generate_current_batch(params: dict[str, Any]) -> pd.DataFrame:
    """Return the current batch with deliberate covariate and concept drift, labelled."""
    return _generate_batch(
        params["current_rows"],
        params["seed"] + 1,
        age_shift=6.0,
        charges_shift=12.0,
        usage_shift=0.4,
        contract_mix=CURRENT_CONTRACT_MIX,
        payment_mix=dict(CURRENT_PAYMENT_MIX),
        support_effect=CONCEPT_DRIFT["support_calls"][1],
        tenure_effect=CONCEPT_DRIFT["tenure_months"][1],
        id_prefix="N",
    )


def generate_drifted_batch(
    n_rows: int, seed: int, strength: float, id_prefix: str = "D"
) -> pd.DataFrame:
    """Return a labelled batch at drift `strength` (0 = reference, 1 = the current batch's)."""
    return _generate_batch(n_rows, seed, **_drifted_settings(strength), id_prefix=id_prefix)


def labelled_batch_name(position: int) -> str:
    """Return the sortable partition name of the `position`-th labelled batch (1-based)."""
    return f"batch_{position:03d}"


def generate_labelled_batches(params: dict[str, Any]) -> dict[str, pd.DataFrame]:
    """Return {partition name: labelled batch}, the drift growing from batch to batch.

    Batch k of n has drift strength `final_strength` * k / n, so the newest batch drifts most
    (strength 1 is the current batch's drift).
    """
    settings = params["labelled_batches"]
    count, final = int(settings["count"]), float(settings["final_strength"])
    return {
        labelled_batch_name(k): generate_drifted_batch(
            int(settings["rows"]), params["seed"] + 10 + k, final * k / count, id_prefix="B"
        )
        for k in range(1, count + 1)
    }


def generate_scoring_batch(params: dict[str, Any]) -> pd.DataFrame:
    """Return the newest period's batch without its label column: the batch to score."""
    settings = params["scoring_batch"]
    batch = generate_drifted_batch(
        int(settings["rows"]), params["seed"] + 100, float(settings["strength"]), id_prefix="S"
    )
    return batch.drop(columns="churned")
