"""NAV on 2022-11-09 (the FTX collapse) checked against an independent pandas/numpy computation.

A fixed portfolio of BTC, ETH and USDT lots in two funds plus seized BTC in a custody account is
valued at the Yahoo closes of that day (used as the fix here) and the day's USD/KZT rate. The
reference reads the same CSVs with pandas and multiplies floats with numpy; the code under test
reads the closes as exact decimal strings and multiplies Decimals.
"""

from __future__ import annotations

import math
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from reserve.core.money import to_base_units
from reserve.valuation.marks import Holding, mark
from reserve.valuation.nav import consolidated, custodial_statement, nav_by_fund, reserve_share
from reserve.valuation.policy import Basis, parse_valuation_policy

ROOT = Path(__file__).resolve().parents[2]
PRICES = ROOT / "data" / "prices"
DAY = date(2022, 11, 9)
DECIMALS = {"BTC": 8, "ETH": 18, "USDT": 6}
CASH_USD = {"SFDA": "250000.00", "ALEM": "1234.56"}

R = "Assets:Reserve:"
# fund, asset, account, provenance, whole units (exact text), cost USD, cost KZT
LOTS = [
    ("SFDA", "BTC", R + "SFDA:BTC-cold", "forfeiture", "150.5", "3010000", "1294300000"),
    ("SFDA", "BTC", R + "SFDA:BTC-cold", "purchase", "12.34567891", "800000", "368000000"),
    ("SFDA", "BTC", R + "SFDA:BTC-hot", "purchase", "0.5", "20000.01", "9400004.70"),
    ("SFDA", "ETH", R + "SFDA:ETH", "mining", "2500.123456789012345678", "4000000", "1800000000"),
    ("SFDA", "USDT", R + "SFDA:USDT", "purchase", "1000000.123456", "1000000", "470000000"),
    ("ALEM", "BTC", R + "ALEM:BTC", "mining", "20", "500000", "210000000"),
    ("ALEM", "ETH", R + "ALEM:ETH", "purchase", "100", "300000", "135000000"),
    ("ALEM", "BTC", R + "ALEM:BTC-2019", "mining", "5", "20000", "7600000"),
    (None, "BTC", "Assets:Custody:Seized:2022-001:BTC", "seizure", "12.5", "812500", "365625000"),
]  # fmt: skip


def _close_text(asset: str) -> str:
    """The close exactly as written in the file: the fix of the code under test."""
    frame = pd.read_csv(PRICES / f"{asset.lower()}_usd.csv", dtype=str)
    return str(frame.loc[frame["date"] == DAY.isoformat(), "close_usd"].item())


def _rate_text() -> str:
    frame = pd.read_csv(PRICES / "usd_kzt.csv", dtype=str)
    return str(frame.loc[frame["date"] == DAY.isoformat(), "kzt_per_usd"].item())


def _reference(basis: Basis) -> pd.DataFrame:
    """Per-fund NAV in USD and KZT, computed with pandas and numpy floats only."""
    closes = {
        asset: pd.read_csv(PRICES / f"{asset.lower()}_usd.csv", index_col="date").loc[
            DAY.isoformat(), "close_usd"
        ]
        for asset in DECIMALS
    }
    rate = pd.read_csv(PRICES / "usd_kzt.csv", index_col="date").loc[DAY.isoformat(), "kzt_per_usd"]
    lots = pd.DataFrame(LOTS, columns=["fund", "asset", "account", "prov", "units", "cost", "ckzt"])
    lots = lots[lots["account"].str.startswith("Assets:Reserve:")].copy()
    lots["fair"] = lots["units"].astype(float).to_numpy() * lots["asset"].map(closes).to_numpy()
    lots["cost"] = lots["cost"].astype(float)
    groups = lots.groupby(["fund", "asset", "account", "prov"], as_index=False)[
        ["fair", "cost"]
    ].sum()
    if basis == "ias38-cost":
        groups["carrying"] = np.minimum(groups["fair"], groups["cost"])
    else:
        groups["carrying"] = groups["fair"]
    nav = groups.groupby("fund")["carrying"].sum() + pd.Series(CASH_USD).astype(float)
    return pd.DataFrame({"nav_usd": nav, "nav_kzt": nav * rate})


def _marks(basis: Basis) -> list[Any]:
    fixes = {asset: Decimal(_close_text(asset)) for asset in DECIMALS}
    rate = Decimal(_rate_text())
    holdings = [
        Holding(
            fund,
            asset,
            account,
            prov,
            to_base_units(units, DECIMALS[asset]),
            Decimal(c),
            Decimal(k),
        )
        for fund, asset, account, prov, units, c, k in LOTS
    ]
    return [
        mark(h, decimals=DECIMALS[h.asset], fix=fixes[h.asset], fix_status="OK",
             kzt_per_usd=rate, basis=basis)
        for h in holdings
    ]  # fmt: skip


def _cents(value: Decimal | float | None) -> Decimal:
    assert value is not None
    if isinstance(value, float):
        value = Decimal(repr(round(value, 2)))
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)


@pytest.mark.parametrize("basis", ["fair-value", "ias38-cost"])
def test_nav_on_ftx_day_matches_an_independent_computation(basis: Basis) -> None:
    # The marks are per lot; each lot here is its own (fund, asset, account, provenance) group,
    # as in the reference's groupby, so the cost model impairs the same holdings in both.
    navs = nav_by_fund(
        _marks(basis), {f: Decimal(c) for f, c in CASH_USD.items()}, Decimal(_rate_text())
    )
    expected = _reference(basis)
    assert [n.fund for n in navs] == sorted(expected.index)
    # The reference multiplies binary floats (a float64 carries ~16 significant digits, so a
    # NAV of ~1e10 tenge is off by ~1e-6), the code under test exact decimals: they can only be
    # expected to agree once both are rounded to cents.
    for nav in navs:
        assert _cents(nav.nav_usd) == _cents(float(expected.loc[nav.fund, "nav_usd"]))
        assert _cents(nav.nav_kzt) == _cents(float(expected.loc[nav.fund, "nav_kzt"]))
        assert nav.basis == basis
        assert nav.missing_prices == ()
    total = consolidated(navs)
    assert _cents(total.nav_usd) == _cents(float(expected["nav_usd"].sum()))
    assert _cents(total.nav_kzt) == _cents(float(expected["nav_kzt"].sum()))


def test_ftx_day_cost_model_impairs_only_what_fell_below_cost() -> None:
    # BTC closed at 15,880.78, ETH at 1,100.17, USDT at 0.9986: every lot bought or forfeited
    # at 2021-22 prices is below cost and carried at fair value; only the 5 BTC mined in 2019
    # at 4,000/BTC stay at cost, below their fair value
    fair = {n.fund: n for n in nav_by_fund(_marks("fair-value"), {}, None)}
    cost = {n.fund: n for n in nav_by_fund(_marks("ias38-cost"), {}, None)}
    assert cost["SFDA"].carrying_usd == fair["SFDA"].carrying_usd < cost["SFDA"].cost_usd
    btc = Decimal(_close_text("BTC"))
    assert fair["ALEM"].carrying_usd - cost["ALEM"].carrying_usd == 5 * btc - 20_000
    assert cost["ALEM"].nav_kzt is None  # no rate passed, no tenge NAV


def test_custody_is_outside_nav_and_share_of_national_reserves() -> None:
    policy = parse_valuation_policy((ROOT / "config" / "valuation.toml").read_text(), "valuation")
    marks = _marks(policy.basis)
    total = consolidated(nav_by_fund(marks, {f: Decimal(c) for f, c in CASH_USD.items()}, None))
    (seized,) = custodial_statement(marks)
    assert seized.holding.account.startswith("Assets:Custody:")
    btc = float(
        pd.read_csv(PRICES / "btc_usd.csv", index_col="date").loc[DAY.isoformat(), "close_usd"]
    )
    assert _cents(seized.fair_usd) == _cents(12.5 * btc)
    share = reserve_share(total.nav_usd, policy.national_reserves)
    expected = float(_reference("fair-value")["nav_usd"].sum()) / 104.7e9
    assert math.isclose(float(share), expected, rel_tol=1e-12)
    assert Decimal("0.00006") < share < Decimal("0.00007")  # about 0.0067 % of USD 104.7B
