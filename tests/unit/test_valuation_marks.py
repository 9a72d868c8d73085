"""Marks under the three bases, a holding without a price, grouping, NAV without custody, the
realised results and the valuation policy file."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from reserve.core.errors import InvalidInput
from reserve.valuation.marks import Holding, Mark, group, mark, value_units
from reserve.valuation.nav import (
    consolidated,
    custodial_statement,
    is_custodial,
    nav_by_fund,
    reserve_share,
)
from reserve.valuation.policy import Basis, parse_valuation_policy
from reserve.valuation.realised import Disposal, realised

ROOT = Path(__file__).resolve().parents[2]
D = Decimal
BTC = 100_000_000  # satoshi per BTC

# 2 BTC bought for USD 100,000 when a dollar was 450 tenge
TWO_BTC = Holding(
    "SFDA", "BTC", "Assets:Reserve:SFDA:BTC", "purchase", 2 * BTC, D(100_000), D(45_000_000)
)
ABOVE, BELOW = D("60000"), D("40000")  # fair value 120,000 or 80,000 against cost 100,000


def _mark(holding: Holding, fix: Decimal | None, basis: Basis, *, rate: str | None = "450") -> Mark:
    return mark(
        holding,
        decimals=8,
        fix=fix,
        fix_status="OK",
        kzt_per_usd=None if rate is None else D(rate),
        basis=basis,
    )


@pytest.mark.parametrize(
    ("basis", "fix", "carrying", "impairment", "surplus"),
    [
        ("fair-value", ABOVE, 120_000, 0, 0),
        ("fair-value", BELOW, 80_000, 0, 0),
        ("ias38-cost", ABOVE, 100_000, 0, 0),  # never above cost
        ("ias38-cost", BELOW, 80_000, 20_000, 0),  # impaired to fair value, loss in P&L
        ("ias38-revaluation", ABOVE, 120_000, 0, 20_000),  # increase above cost to OCI
        ("ias38-revaluation", BELOW, 80_000, 20_000, 0),  # decrease below cost to P&L
    ],
)
def test_each_basis_above_and_below_cost(
    basis: Basis, fix: Decimal, carrying: int, impairment: int, surplus: int
) -> None:
    m = _mark(TWO_BTC, fix, basis)
    assert m.basis == basis
    assert m.fair_usd == 2 * fix
    assert m.carrying_usd == carrying
    assert m.impairment_usd == impairment
    assert m.revaluation_surplus_usd == surplus
    assert m.unrealised_usd == 2 * fix - 100_000  # the economic result, on every basis


def test_cost_model_impairment_reverses_only_up_to_cost() -> None:
    impaired = _mark(TWO_BTC, BELOW, "ias38-cost")
    recovered = _mark(TWO_BTC, ABOVE, "ias38-cost")
    assert (impaired.impairment_usd, recovered.impairment_usd) == (20_000, 0)
    assert recovered.carrying_usd == TWO_BTC.cost_usd  # reversal stops at cost


def test_kzt_applies_the_basis_to_tenge_cost() -> None:
    # 120,000 USD at 500 tenge = 60,000,000 KZT against 45,000,000 KZT of cost
    m = _mark(TWO_BTC, ABOVE, "ias38-revaluation", rate="500")
    assert m.fair_kzt == 60_000_000
    assert m.revaluation_surplus_kzt == 15_000_000
    # 80,000 USD at 600 = 48,000,000 KZT: impaired in dollars, not in tenge
    m = _mark(TWO_BTC, BELOW, "ias38-cost", rate="600")
    assert (m.impairment_usd, m.impairment_kzt) == (20_000, 0)
    assert m.carrying_kzt == 45_000_000


def test_no_price_leaves_values_empty_and_keeps_the_status() -> None:
    m = mark(
        TWO_BTC, decimals=8, fix=None, fix_status="MISSING", kzt_per_usd=D(450), basis="ias38-cost"
    )
    assert m.fix_status == "MISSING"
    assert not m.priced
    assert (m.fair_usd, m.fair_kzt, m.carrying_usd, m.unrealised_usd) == (None, None, None, None)
    assert (m.impairment_usd, m.revaluation_surplus_usd) == (0, 0)


def test_no_rate_leaves_tenge_empty() -> None:
    m = _mark(TWO_BTC, ABOVE, "fair-value", rate=None)
    assert m.fair_usd == 120_000
    assert (m.fair_kzt, m.carrying_kzt) == (None, None)


def test_value_units_is_exact_beyond_28_digits() -> None:
    wei = 1_000_000 * 10**18  # a million ETH
    value = value_units(wei, 18, D("3456.789012"))
    assert value == D("3456789012")
    # one wei more is worth 3.456789012e-15 dollars, 34 significant digits in all: the default
    # 28-digit context would round it away
    one_more = value_units(wei + 1, 18, D("3456.789012"))
    assert one_more == D("3456789012.000000000000003456789012")
    plain = (D(wei + 1) * D("3456.789012")).scaleb(-18)  # in the default context
    assert plain == D("3456789012.000000000000003457") != one_more


CUSTODY = Holding(
    None, "BTC", "Assets:Custody:Seized:2024-001:BTC", "seizure", 10 * BTC, D(1), D(450)
)


def test_custodial_units_are_not_in_nav_and_have_their_own_statement() -> None:
    marks = [_mark(TWO_BTC, ABOVE, "ias38-cost"), _mark(CUSTODY, ABOVE, "ias38-cost")]
    navs = nav_by_fund(marks, {"SFDA": D("5000.50")}, D(450))
    assert [n.fund for n in navs] == ["SFDA"]
    assert navs[0].nav_usd == D("105000.50")  # cost model: 100,000 carried + cash
    assert navs[0].nav_kzt == D("105000.50") * 450
    assert is_custodial(CUSTODY.account)
    assert not is_custodial(TWO_BTC.account)
    statement = custodial_statement(marks)
    assert [m.holding for m in statement] == [CUSTODY]
    assert statement[0].basis == "fair-value"  # no IAS 38 model for what the state does not own
    assert statement[0].carrying_usd == statement[0].fair_usd == 600_000


def test_nav_names_missing_prices_and_consolidates() -> None:
    eth = Holding("ALEM", "ETH", "Assets:Reserve:ALEM:ETH", "mining", 10**18, D(1000), D(450_000))
    sol = Holding("ALEM", "SOL", "Assets:Reserve:ALEM:SOL", "purchase", 10**9, D(100), D(45_000))
    marks = [
        _mark(TWO_BTC, ABOVE, "fair-value"),
        mark(
            eth, decimals=18, fix=D(1200), fix_status="OK", kzt_per_usd=D(450), basis="fair-value"
        ),
        mark(
            sol, decimals=9, fix=None, fix_status="MISSING", kzt_per_usd=D(450), basis="fair-value"
        ),
    ]
    navs = nav_by_fund(marks, {"KZ-CASH": D(7)}, D(450))
    assert [(n.fund, n.nav_usd, n.missing_prices) for n in navs] == [
        ("ALEM", 1200, ("SOL",)),
        ("KZ-CASH", 7, ()),
        ("SFDA", 120_000, ()),
    ]
    total = consolidated(navs)
    assert (total.fund, total.nav_usd, total.unrealised_usd) == ("RESERVE", 121_207, 20_200)
    assert total.missing_prices == ("SOL",)
    assert not total.complete


def test_one_valuation_one_basis() -> None:
    marks = [_mark(TWO_BTC, ABOVE, "fair-value"), _mark(TWO_BTC, ABOVE, "ias38-cost")]
    with pytest.raises(ValueError, match="mixes bases"):
        nav_by_fund(marks, {}, None)


def test_group_sums_exactly_and_keeps_what_members_share() -> None:
    hot = Holding("SFDA", "BTC", "Assets:Reserve:SFDA:BTC-hot", "mining", 1, D("0.01"), D("4.5"))
    grouped = group([TWO_BTC, hot, CUSTODY], by=["fund", "asset"])
    assert grouped == [
        Holding(
            "SFDA", "BTC", "Assets:Reserve:SFDA", "*", 2 * BTC + 1, D("100000.01"), D("45000004.5")
        ),
        CUSTODY,
    ]
    with pytest.raises(ValueError, match="asset"):
        group([TWO_BTC], by=["fund"])


def test_reserve_share_against_the_configured_denominator() -> None:
    policy = parse_valuation_policy(
        (ROOT / "config" / "valuation.toml").read_text(), "valuation.toml"
    )
    assert policy.basis == "fair-value"
    assert reserve_share(D("1047000000"), policy.national_reserves) == D("0.01")


def test_policy_refuses_floats_and_unknown_keys() -> None:
    text = (ROOT / "config" / "valuation.toml").read_text()
    with pytest.raises(InvalidInput, match=r"alerts\.peg_floor: .*float"):
        parse_valuation_policy(text.replace('peg_floor = "0.98"', "peg_floor = 0.98"), "v.toml")
    with pytest.raises(InvalidInput, match="colour: Extra inputs"):
        parse_valuation_policy(text + '\ncolour = "red"\n', "v.toml")


def test_realised_per_fund_and_asset() -> None:
    sales = [
        Disposal(date(2024, 5, 1), "SFDA", "BTC", BTC, D(30_000), D("60000.10")),
        Disposal(date(2024, 6, 1), "SFDA", "BTC", BTC // 2, D(20_000), D(15_000)),
        Disposal(date(2024, 6, 2), "ALEM", "ETH", 10**18, D(3_000), D(2_500)),
    ]
    assert realised(sales) == [
        ("ALEM", "ETH", 10**18, 3_000, 2_500, -500),
        ("SFDA", "BTC", BTC + BTC // 2, 50_000, D("75000.10"), D("25000.10")),
    ]
    (only,) = realised(sales, start=date(2024, 6, 1), end=date(2024, 6, 1))
    assert (only.fund, only.result_usd) == ("SFDA", -5_000)
