"""Whole units <-> base units: exact both ways, floats and extra decimals refused."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reserve.core.money import (
    AmountError,
    canonical_decimal,
    decimal_text,
    format_units,
    parse_decimal,
    to_base_units,
)


@pytest.mark.parametrize(
    ("text", "decimals", "units"),
    [
        ("1.5", 8, 150_000_000),
        ("-0.00000001", 8, -1),
        ("1000000", 18, 10**24),
        ("0.000000000000000001", 18, 1),
        ("12", 0, 12),
    ],
)
def test_parses_exact_base_units(text: str, decimals: int, units: int) -> None:
    assert to_base_units(text, decimals) == units


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (1.5, "decimal string"),
        (15, "decimal string"),
        ("1e3", "plain decimal"),
        ("0.123456789", "has 9 decimals; the asset has 8"),
        ("abc", "plain decimal"),
        ("", "plain decimal"),
    ],
)
def test_refuses_inexact_or_malformed(value: object, reason: str) -> None:
    with pytest.raises(AmountError, match=reason):
        to_base_units(value, 8)


@given(st.integers(min_value=-(10**40), max_value=10**40), st.integers(min_value=0, max_value=30))
def test_format_then_parse_is_identity(units: int, decimals: int) -> None:
    assert to_base_units(format_units(units, decimals), decimals) == units


def test_decimal_has_one_spelling() -> None:
    assert decimal_text(Decimal("1.500")) == "1.5"
    assert decimal_text(Decimal("1E+3")) == "1000"
    assert canonical_decimal(Decimal("-0.000")) == 0
    assert parse_decimal("812500.00") == Decimal("812500")


def test_parse_decimal_refuses_floats_and_infinity() -> None:
    with pytest.raises(AmountError):
        parse_decimal(0.1)
    with pytest.raises(AmountError):
        parse_decimal("Infinity")
