"""The held-out cases runner's comparison of a decision JSON with its golden expectation (no CLI run)."""

from __future__ import annotations

from benchmarks.heldout_cases import differences

WANT = {
    "outcome": "approved",
    "outputs": {"tax_rate": "0.01", "tax_amount": "7386.28", "family_houses": 0},
    "failed": [],
    "unknown": [],
    "missing_materials": [],
}


def decision(outcome: str = "approved", amount: str = "7386.280", unknown: tuple[str, ...] = ()) -> dict:
    return {
        "outcome": outcome,
        "outputs": {"tax_rate": "0.010", "tax_amount": amount, "family_houses": 0},
        "conditions": [{"id": "deal_area_matches", "status": "pass"}]
        + [{"id": c, "status": "unknown"} for c in unknown],
        "missing_materials": [],
    }


def test_a_matching_decision_has_no_differences() -> None:
    assert differences(decision(), WANT) == []  # decimals compare by value


def test_outcome_outputs_and_conditions_are_compared() -> None:
    assert differences(decision(amount="7386.27"), WANT) == ["outputs.tax_amount"]
    got = differences(decision("review", unknown=("deal_price_matches",)), WANT)
    assert got == ["outcome", "unknown"]
