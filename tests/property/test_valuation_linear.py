"""Valuation is linear and exact: lots valued one by one add up to the value of their total,
grouping before marking changes no fair value, and a roll-forward always reconciles to zero."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from reserve.valuation.marks import Holding, Mark, exact_sum, group, mark, value_units
from reserve.valuation.policy import Basis
from reserve.valuation.rollforward import DayFlows, roll_forward

units = st.integers(min_value=0, max_value=10**27)
decimals = st.integers(min_value=0, max_value=18)
# a price of up to 12 significant digits, from 1e-12 to ~1e18
prices = st.builds(
    lambda coefficient, exponent: Decimal(f"{coefficient}E{exponent}"),
    st.integers(min_value=1, max_value=10**12 - 1),
    st.integers(min_value=-24, max_value=6),
)
costs = st.builds(
    lambda cents: Decimal(cents).scaleb(-2), st.integers(min_value=0, max_value=10**20)
)
bases = st.sampled_from(["fair-value", "ias38-cost", "ias38-revaluation"])
holdings = st.builds(
    Holding,
    fund=st.sampled_from(["SFDA", "ALEM", None]),
    asset=st.just("ETH"),
    account=st.sampled_from(["Assets:Reserve:SFDA:ETH", "Assets:Reserve:ALEM:ETH-cold"]),
    provenance=st.sampled_from(["mining", "purchase", "forfeiture"]),
    units=units,
    cost_usd=costs,
    cost_kzt=costs,
)


@given(st.lists(units, min_size=1, max_size=30), decimals, prices)
def test_value_of_the_sum_is_the_sum_of_the_values(
    lots: list[int], places: int, price: Decimal
) -> None:
    separately = exact_sum(value_units(u, places, price) for u in lots)
    assert separately == value_units(sum(lots), places, price)


@given(st.lists(holdings, min_size=1, max_size=20), decimals, prices, prices)
def test_grouping_then_marking_equals_marking_then_summing(
    lots: list[Holding], places: int, fix: Decimal, rate: Decimal
) -> None:
    def at_fair_value(h: Holding) -> Mark:
        return mark(
            h, decimals=places, fix=fix, fix_status="OK", kzt_per_usd=rate, basis="fair-value"
        )

    for grouped in group(lots, by=["fund", "asset"]):
        whole = at_fair_value(grouped)
        parts = [at_fair_value(h) for h in lots if h.fund == grouped.fund]
        for name in ("fair_usd", "fair_kzt", "carrying_usd", "unrealised_usd", "unrealised_kzt"):
            assert getattr(whole, name) == exact_sum(getattr(m, name) for m in parts), name
        assert grouped.cost_usd == exact_sum(m.holding.cost_usd for m in parts)
        assert grouped.units == sum(m.holding.units for m in parts)


@given(holdings, decimals, prices, bases)
def test_carrying_is_cost_less_impairment_plus_surplus(
    holding: Holding, places: int, fix: Decimal, basis: Basis
) -> None:
    m = mark(holding, decimals=places, fix=fix, fix_status="OK", kzt_per_usd=None, basis=basis)
    assert min(m.impairment_usd, m.revaluation_surplus_usd) >= 0
    if basis == "fair-value":
        assert m.carrying_usd == m.fair_usd
        assert m.impairment_usd == m.revaluation_surplus_usd == 0
    else:
        assert m.carrying_usd == holding.cost_usd - m.impairment_usd + m.revaluation_surplus_usd
        if basis == "ias38-revaluation":
            assert m.carrying_usd == m.fair_usd
        else:
            assert m.revaluation_surplus_usd == 0


@given(
    st.integers(min_value=0, max_value=10**24),
    st.lists(prices, min_size=2, max_size=20),
    st.data(),
)
def test_a_roll_forward_always_reconciles_to_zero(
    held: int, fixes: list[Decimal], data: st.DataObject
) -> None:
    start = date(2024, 1, 1)
    days = [start + timedelta(days=n) for n in range(len(fixes))]
    flows = data.draw(
        st.lists(
            st.builds(
                DayFlows,
                day=st.sampled_from(days[1:]),
                additions=st.lists(st.tuples(st.integers(0, 10**24), costs), max_size=3),
                disposals_units=st.integers(0, 10**20),
            ),
            max_size=10,
        )
    )
    result = roll_forward(
        "ETH", 18, start, days[-1], held, dict(zip(days, fixes, strict=True)), flows
    )
    assert result.difference == 0
