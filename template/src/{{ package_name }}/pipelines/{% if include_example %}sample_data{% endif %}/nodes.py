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


def generate_current_batch(params: dict[str, Any]) -> pd.DataFrame:
    """Return the current batch with deliberate covariate and concept drift, labelled."""
    return _generate_batch(
        params["current_rows"],
        params["seed"] + 1,
        age_shift=6.0,
        charges_shift=12.0,
        usage_shift=0.4,
        contract_mix=(0.45, 0.30, 0.25),
        payment_mix={
            "card": 0.32,
            "bank_transfer": 0.22,
            "electronic_check": 0.24,
            "mailed_check": 0.14,
            UNSEEN_CATEGORY[1]: 0.08,
        },
        support_effect=CONCEPT_DRIFT["support_calls"][1],
        tenure_effect=CONCEPT_DRIFT["tenure_months"][1],
        id_prefix="N",
    )
