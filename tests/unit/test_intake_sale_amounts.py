"""A sale's USD amounts: gross proceeds to the cent, fees only in whole cents."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from reserve.services.intake_orders_booking import cents, gross_cents


def test_gross_proceeds_round_half_to_even_at_the_cent() -> None:
    assert gross_cents(2 * 10**8, 8, Decimal("64250.50")) == 12_850_100
    assert gross_cents(1, 8, Decimal("500000")) == 0  # 0.005 rounds to the even 0.00
    assert gross_cents(3, 8, Decimal("500000")) == 2  # 0.015 rounds to the even 0.02
    assert gross_cents(10**40, 18, Decimal("1234.5678")) == 12_345_678 * 10**20  # past 28 digits


def test_a_fee_is_a_whole_number_of_cents() -> None:
    assert cents(Decimal("120")) == 12_000
    assert cents(Decimal("0.10")) == 10
    assert cents(Decimal("1E+2")) == 10_000
    assert cents(Decimal("0.001")) is None
    assert cents(Decimal("NaN")) is None


@given(st.integers(0, 10**30), st.decimals(min_value=0, max_value=10**7, places=4))
def test_gross_is_within_half_a_cent_of_the_exact_value(amount: int, price: Decimal) -> None:
    exact = Decimal(amount).scaleb(-8) * price * 100
    assert abs(Decimal(gross_cents(amount, 8, price)) - exact) <= Decimal("0.5")
