"""Prices loaded, fixes published and the reserve valued, on SQLite and PostgreSQL; expected
values derived independently from the bundled files with pandas."""

from __future__ import annotations

import decimal
import shutil
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from reserve.bootstrap import Reserve
from reserve.core.errors import Conflict, InvalidInput
from reserve.ledger.accounts import Account
from reserve.services import market, market_load
from reserve.services.ledger import open_accounts, post_entries
from reserve.services.rollforward import roll_forward_asset
from reserve.services.valuation import value_day, value_range

from support import ACCOUNTS, CUSTODY, VAULT, VAULT2, intake, lot

PRICES = Path(__file__).resolve().parents[2] / "data" / "prices"
DAY = date(2022, 11, 9)  # FTX: inside the official USD/KZT series, sources disagree a little
BTC = 100_000_000


def _close(file: str, column: str, day: date) -> Decimal:
    frame = pd.read_csv(PRICES / file, dtype=str).set_index("date")
    return Decimal(frame.loc[str(day), column])


@pytest.fixture
def books(reserve: Reserve) -> Reserve:
    open_accounts(reserve, [Account(n, f, date(2021, 1, 1)) for n, f in ACCOUNTS])
    post_entries(reserve, [
        intake("e", VAULT, BTC, day=date(2021, 5, 1), opening=lot("purchase", "p0", "50000")),
        intake("a", VAULT, 3 * BTC, day=date(2022, 11, 1), opening=lot("purchase", "p1", "60000")),
        intake("b", VAULT2, BTC // 2, day=date(2022, 11, 2), opening=lot("mining", "m1", "9000")),
        intake("c", CUSTODY, 7 * BTC, day=date(2022, 11, 3), opening=lot("seizure", "s1", "1")),
    ], actor="system")  # fmt: skip
    market_load.load_market(reserve, actor="system", today=date(2026, 6, 1))
    return reserve


def test_a_day_is_valued_at_its_fix_in_usd_and_kzt(books: Reserve) -> None:
    valued = value_day(books, DAY, actor="system")
    fix = valued.fixes["BTC"]
    # the fix of D is the median of the D-1 closes (Yahoo, CoinGecko, Binance x USDT fix)
    yesterday = DAY - timedelta(days=1)
    usdt = _close("usdt_usd.csv", "close_usd", yesterday)  # CoinGecko's USDT ends in 2021
    assert valued.fixes["USDT"].status == "DEGRADED"
    assert valued.fixes["USDT"].value == usdt
    sources = sorted([
        _close("btc_usd.csv", "close_usd", yesterday),
        _close("btc_usd_source2.csv", "close_usd", yesterday),
        _close("btc_usdt_binance.csv", "close_usdt", yesterday) * usdt,
    ])  # fmt: skip
    assert fix.status == "OK"
    assert fix.value == sources[1]
    rate = _close("usd_kzt.csv", "kzt_per_usd", DAY)
    held = Decimal(4 * BTC + BTC // 2) / BTC
    with decimal.localcontext(prec=60):  # the books never round a product: neither does this
        assert valued.total.nav_usd == held * fix.value
        assert valued.total.nav_kzt == held * fix.value * rate
    assert valued.custodial_usd == 7 * fix.value  # seized units: valued, never in NAV
    assert valued.share == valued.total.nav_usd / Decimal("104700000000")


def test_tenge_is_absent_inside_the_rate_gap_never_forward_filled(books: Reserve) -> None:
    valued = value_day(books, date(2021, 11, 9), actor="system")
    assert valued.rate is not None
    assert valued.rate.stale
    assert valued.rate.day == date(2020, 3, 30)
    assert valued.total.nav_kzt is None
    assert valued.total.nav_usd > 0


def test_the_roll_forward_reconciles_to_zero(books: Reserve) -> None:
    bought = intake("d", VAULT, BTC, day=date(2022, 11, 20), opening=lot("purchase", "p2", "16500"))
    post_entries(books, [bought], actor="system")
    done = roll_forward_asset(books, "BTC", date(2022, 11, 5), date(2022, 11, 30), actor="system")
    assert done.difference == 0
    assert done.additions == Decimal("16500")
    assert done.opening_units == 4 * BTC + BTC // 2
    assert done.closing_units == 5 * BTC + BTC // 2


def test_a_backfill_stores_one_run_per_day_and_matches_single_days(books: Reserve) -> None:
    days = value_range(books, date(2022, 11, 1), date(2022, 11, 10), actor="system")
    assert [v.day for v in days] == [date(2022, 11, 1) + timedelta(days=n) for n in range(10)]
    again = value_day(books, date(2022, 11, 7), actor="system")
    assert again.total.nav_usd == days[6].total.nav_usd
    assert days[0].total.nav_usd == 4 * days[0].fixes["BTC"].value  # before the mining lot


def test_a_changed_method_is_a_correction_with_a_reason(books: Reserve, tmp_path: Path) -> None:
    market.fix_range(books, DAY, DAY, actor="system")
    config = tmp_path / "market.toml"
    text = books.settings.market_config.read_text(encoding="utf-8")
    config.write_text(text.replace('outlier_pct = "2"', 'outlier_pct = "0.01"'), encoding="utf-8")
    books.settings = books.settings.model_copy(update={"market_config": config})
    with pytest.raises(Conflict, match="give --reason to publish a correction"):
        market.fix_range(books, DAY, DAY, actor="system")
    market.fix_range(books, DAY, DAY, actor="system", reason="outlier rule tightened")
    versions = market.fix_history(books, "BTC", DAY)
    assert [v.version for v in versions] == [1, 2]
    assert versions[1].reason == "outlier rule tightened"
    assert versions[1].status == "DISPERSED"


def test_a_day_without_any_data_is_refused(books: Reserve) -> None:
    with pytest.raises(InvalidInput, match="no source has data for this day"):
        market.fix_range(books, date(2009, 1, 3), date(2009, 1, 3), actor="system")


def test_a_bad_price_row_loads_nothing(reserve: Reserve, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(PRICES.parent, data)
    path = data / "prices" / "eth_usd.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[10] = lines[10].split(",")[0] + ",-5,1,1,1,1"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    reserve.settings = reserve.settings.model_copy(update={"data_dir": data})
    with pytest.raises(InvalidInput, match=r"eth_usd\.csv line 11"):
        market_load.load_market(reserve, actor="system", today=date(2026, 6, 1))
    with reserve.reading() as uow:
        assert uow.market.loaded_sources() == []
