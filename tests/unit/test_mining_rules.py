"""The sale rule for mining output: effective-dated, never rounded below the share."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from reserve.intake.mining import (
    SaleRule,
    rule_on,
    rule_problems,
    sold_share_shortfall,
    split_output,
)

RULES = [SaleRule(date(2024, 1, 1), Decimal("0.5")), SaleRule(date(2025, 1, 1), Decimal("0.75"))]


def test_the_rule_in_force_is_the_latest_effective_one() -> None:
    assert rule_on(RULES, date(2023, 12, 31)) is None
    assert rule_on(RULES, date(2024, 7, 1)) == RULES[0]
    assert rule_on(RULES, date(2025, 1, 1)) == RULES[1]


def test_split_rounds_the_sold_part_up() -> None:
    split = split_output(3, RULES[1])
    assert (split.to_sell, split.to_retain) == (3, 0)
    split = split_output(100_000_001, RULES[0])
    assert (split.to_sell, split.to_retain) == (50_000_001, 50_000_000)


def test_a_period_that_sold_too_little_is_flagged() -> None:
    assert sold_share_shortfall(400, 299, RULES[1]) == 1
    assert sold_share_shortfall(400, 300, RULES[1]) == 0


def test_bad_rules_are_named() -> None:
    problems = rule_problems(
        [SaleRule(date(2024, 1, 1), Decimal("1.5")), SaleRule(date(2024, 1, 1), Decimal("0.5"))]
    )
    assert [p.field for p in problems] == ["sell_share", "effective_from"]


@given(amount=st.integers(0, 10**20), share=st.decimals(min_value=0, max_value=1, places=4))
def test_the_split_conserves_units_and_meets_the_share(amount: int, share: Decimal) -> None:
    split = split_output(amount, SaleRule(date(2024, 1, 1), share))
    assert split.to_sell + split.to_retain == amount
    assert split.to_retain >= 0
    assert Decimal(split.to_sell) >= Decimal(amount) * share
    assert Decimal(split.to_sell) - Decimal(amount) * share < 1
