"""`market load` with an exchange through ccxt and the National Bank as configured sources, on
SQLite and PostgreSQL, against local servers that answer like Binance and the NBK.

The configuration next to them has small bundled files written here (USDT from two sources, BTC
from two), so every number a fix is checked against is computed by hand in this file. The
reserve's clock is moved by the test: it decides which daily candle has closed, and a later load
asks each network source only for the days after the last one loaded.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import text

from reserve.adapters.price_sources import ExchangeSource, SourceUnavailable
from reserve.bootstrap import Reserve
from reserve.core.errors import InvalidInput
from reserve.services import market, market_load

from fake_exchanges import (
    HOUR_MS,
    NBK_DOC,
    NBK_PATH,
    FakeBinance,
    LocalServer,
    ms,
    nbk_answer,
)

FIRST_CANDLE = date(2024, 2, 26)
START = date(2024, 2, 28)  # the configured first day of both network sources


def close_on(day: date) -> str:
    """The daily close of BTCUSDT on ``day``: 60000 + days since 2024-02-26, + .12345678."""
    return f"{60000 + (day - FIRST_CANDLE).days}.12345678"


def _close_of(open_ms: int) -> str:
    return close_on(datetime.fromtimestamp(open_ms / 1000, UTC).date())


def _nbk_doc(dated: str, usd: str, quant: str = "1") -> tuple[int, str]:
    return 200, NBK_DOC.format(date=dated, usd=usd, quant=quant)


NBK_ANSWERS = {
    "28.02.2024": _nbk_doc("28.02.2024", "450.10"),
    "29.02.2024": _nbk_doc("29.02.2024", "450.53"),
    "01.03.2024": _nbk_doc("01.03.2024", "4497,6", "10"),  # 449.76 a dollar
    "02.03.2024": _nbk_doc("01.03.2024", "4497,6", "10"),  # no publication: the last one
    "03.03.2024": _nbk_doc("01.03.2024", "4497,6", "10"),
    "04.03.2024": _nbk_doc("04.03.2024", "451.00"),
    "05.03.2024": _nbk_doc("05.03.2024", "452.25"),
    "06.03.2024": _nbk_doc("05.03.2024", "452.25"),  # not set yet that morning
}

FILES = {
    "usdt_usd.csv": ("close_usd", {}, "0.9995"),
    "usdt_usd_source2.csv": ("close_usd", {}, "1.0001"),
    "btc_usd.csv": ("close_usd", {date(2024, 3, 1): "59000", date(2024, 3, 2): "70000"}, "60000"),
    "btc_usd_source2.csv": (
        "close_usd",
        {date(2024, 3, 1): "61000", date(2024, 3, 2): "60500"},
        "60000",
    ),
}

CONFIG = """
[method]
version = "fix-1"
cutoff = "16:00"
timezone = "Asia/Almaty"
staleness_hours = 24
outlier_pct = "2"
min_sources = 2

[[sources]]
name = "yahoo"
asset = "USDT"
quote = "USD"
file = "usdt_usd.csv"
column = "close_usd"

[[sources]]
name = "coingecko"
asset = "USDT"
quote = "USD"
file = "usdt_usd_source2.csv"
column = "close_usd"

[[sources]]
name = "yahoo"
asset = "BTC"
quote = "USD"
file = "btc_usd.csv"
column = "close_usd"

[[sources]]
name = "coingecko"
asset = "BTC"
quote = "USD"
file = "btc_usd_source2.csv"
column = "close_usd"

[[sources]]
name = "binance"
asset = "BTC"
quote = "USDT"
kind = "ccxt"
exchange = "binance"
symbol = "BTC/USDT"
api_url = "{binance}"
start = 2024-02-28
{extra}
[rates]
kind = "nbk"
base_url = "{nbk}{nbk_path}"
start = 2024-02-28
max_age_days = 3
"""


@dataclass
class Desk:
    """The reserve, its clock and the two servers its configuration points at."""

    reserve: Reserve
    binance: LocalServer
    exchange: FakeBinance
    nbk: LocalServer
    now: list[datetime]

    def at(self, moment: datetime) -> None:
        """Time passes: the clock moves and the exchange's latest (open) candle with it."""
        self.now[0] = moment
        self.exchange.last = datetime.combine(moment.date(), datetime.min.time(), tzinfo=UTC)

    def configure(self, path: Path, *, extra: str = "") -> None:
        config = CONFIG.format(
            binance=self.binance.url, nbk=self.nbk.url, nbk_path=NBK_PATH, extra=extra
        )
        path.write_text(config, encoding="utf-8")
        settings = self.reserve.settings.model_copy(update={"market_config": path})
        self.reserve.settings = settings

    def stored(self, source: str, asset: str) -> dict[date, Decimal]:
        with self.reserve.reading() as uow:
            return uow.market.prices(source, asset)


def _write_files(folder: Path) -> None:
    folder.mkdir(parents=True)
    days = [FIRST_CANDLE + timedelta(days=n) for n in range(7)]  # to 3 March, before "today"
    for file, (column, values, usual) in FILES.items():
        lines = [f"date,{column}", *(f"{d},{values.get(d, usual)}" for d in days)]
        (folder / file).write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture
def desk(reserve: Reserve, tmp_path: Path) -> Iterator[Desk]:
    _write_files(tmp_path / "data" / "prices")
    reserve.settings = reserve.settings.model_copy(update={"data_dir": tmp_path / "data"})
    now = [datetime(2024, 3, 4, 15, tzinfo=UTC)]
    reserve.clock = lambda: now[0]
    exchange = FakeBinance(
        "1d", datetime(2024, 2, 26, tzinfo=UTC), datetime(2024, 3, 4, tzinfo=UTC), _close_of, page=3
    )
    binance = LocalServer(exchange)
    nbk = LocalServer(nbk_answer(NBK_ANSWERS))
    found = Desk(reserve, binance, exchange, nbk, now)
    found.configure(tmp_path / "market.toml")
    yield found
    binance.stop()
    nbk.stop()


def _kline_starts(requests: list[str]) -> list[int]:
    return [
        int(parse_qs(urlsplit(r).query)["startTime"][0])
        for r in requests
        if r.startswith("/api/v3/klines")
    ]


def _nbk_days(requests: list[str]) -> list[str]:
    return [parse_qs(urlsplit(r).query)["fdate"][0] for r in requests]


def _midnight(day: date) -> int:
    return ms(datetime.combine(day, datetime.min.time(), tzinfo=UTC))


def test_exchange_closes_and_bank_rates_are_loaded_then_only_new_days(desk: Desk) -> None:
    loaded = market_load.load_market(desk.reserve, actor="system")  # today: the clock's, 2024-03-04
    # the candle of 2024-03-04 is still open at 15:00 UTC: not a close, not stored
    closes = {
        START + timedelta(days=n): Decimal(close_on(START + timedelta(days=n))) for n in range(5)
    }
    assert desk.stored("binance", "BTC") == closes
    assert closes[date(2024, 3, 3)] == Decimal("60006.12345678")
    assert desk.stored("usd-kzt", "USDKZT") == {
        date(2024, 2, 28): Decimal("450.10"),
        date(2024, 2, 29): Decimal("450.53"),
        date(2024, 3, 1): Decimal("449.76"),
        date(2024, 3, 4): Decimal("451.00"),
    }  # 2 and 3 March: the Bank answered with its rate of the 1st, which is the 1st's row
    by_source = {(x.source, x.asset): x for x in loaded}
    assert (by_source["binance", "BTC"].added, by_source["binance", "BTC"].last) == (
        5,
        date(2024, 3, 3),
    )
    assert by_source["yahoo", "BTC"].added == 7
    # paged three candles at a time from the configured start
    assert _kline_starts(desk.binance.requests) == [_midnight(START), _midnight(date(2024, 3, 2))]
    assert _nbk_days(desk.nbk.requests) == [
        "28.02.2024", "29.02.2024", "01.03.2024", "02.03.2024", "03.03.2024", "04.03.2024"
    ]  # fmt: skip

    desk.binance.requests.clear()
    desk.nbk.requests.clear()
    desk.at(datetime(2024, 3, 6, 1, tzinfo=UTC))
    again = {
        (x.source, x.asset): x.added for x in market_load.load_market(desk.reserve, actor="system")
    }
    assert again["binance", "BTC"] == 2  # 4 and 5 March; the 6th's candle is open
    assert again["usd-kzt", "USDKZT"] == 1  # 5 March; the 6th is not set yet
    assert again["yahoo", "BTC"] == 0  # a file is read whole: nothing new in it
    assert _kline_starts(desk.binance.requests) == [_midnight(date(2024, 3, 4))]
    assert _nbk_days(desk.nbk.requests) == ["05.03.2024", "06.03.2024"]
    assert desk.stored("binance", "BTC")[date(2024, 3, 5)] == Decimal("60008.12345678")

    desk.binance.requests.clear()
    third = market_load.load_market(desk.reserve, actor="system")
    assert sum(x.added for x in third) == 0  # a reload adds nothing
    assert desk.binance.requests == []  # no day of it can have closed since


def test_fetched_rows_are_traced_by_the_sha256_of_their_canonical_json(desk: Desk) -> None:
    market_load.load_market(desk.reserve, actor="system")
    body = [
        {"day": str(START + timedelta(days=n)), "value": close_on(START + timedelta(days=n))}
        for n in range(5)
    ]
    expected = hashlib.sha256(
        json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
    query = text("SELECT source, file_sha256 FROM market_prices WHERE asset IN ('BTC', 'USDKZT')")
    with desk.reserve.engine.connect() as conn:
        shas = {(source, sha) for source, sha in conn.execute(query)}
    binance = {sha for source, sha in shas if source == "binance"}
    assert binance == {expected}
    files = {sha for source, sha in shas if source == "yahoo"}
    prices = desk.reserve.settings.data_dir / "prices" / "btc_usd.csv"
    assert files == {hashlib.sha256(prices.read_bytes()).hexdigest()}  # a file: its bytes


def test_a_usdt_quoted_exchange_close_goes_through_the_usdt_fix(desk: Desk) -> None:
    market_load.load_market(desk.reserve, actor="system")
    outcomes = market.fix_range(desk.reserve, date(2024, 3, 2), date(2024, 3, 3), actor="system")
    fixes = {(f.asset, f.day): f for o in outcomes for f in o.fixes}
    # the fix of D takes the closes of D-1. USDT: the median of 0.9995 and 1.0001
    usdt = fixes["USDT", date(2024, 3, 2)]
    assert (usdt.value, usdt.status) == (Decimal("0.9998"), "OK")
    # 2 March: Binance's 1 March close 60004.12345678 USDT x 0.9998 = 59992.122632088644 USD,
    # the median of 59000 (Yahoo) and 61000 (CoinGecko), both within 2 % of it: all used
    first = fixes["BTC", date(2024, 3, 2)]
    assert first.value == Decimal("59992.122632088644")
    assert (first.status, first.used, first.dropped) == (
        "OK",
        ("binance", "coingecko", "yahoo"),
        (),
    )
    # 3 March: 60005.12345678 x 0.9998 = 59993.122432088644; the median of it, 60500 and 70000
    # is 60500; Yahoo's 70000 is 15.70 % off and dropped; the fix is the median of the other two,
    # (59993.122432088644 + 60500) / 2
    second = fixes["BTC", date(2024, 3, 3)]
    assert second.value == Decimal("60246.561216044322")
    assert (second.status, second.used) == ("OK", ("binance", "coingecko"))
    assert second.dropped == (("yahoo", "15.70 % from the median 60500 of fresh sources"),)


@pytest.mark.parametrize("stopped", ["binance", "nbk"])
def test_an_unreachable_source_writes_nothing(desk: Desk, stopped: str) -> None:
    server = desk.binance if stopped == "binance" else desk.nbk
    server.stop()
    words = "binance BTC/USDT" if stopped == "binance" else "NBK rates for 2024-02-28"
    with pytest.raises(SourceUnavailable, match=words):
        market_load.load_market(desk.reserve, actor="system")
    with desk.reserve.reading() as uow:
        assert uow.market.loaded_sources() == []  # not even the files that could be read


def test_a_ccxt_source_with_a_file_is_refused_naming_the_field(desk: Desk, tmp_path: Path) -> None:
    wrong = '\n[[sources]]\nname = "kraken"\nasset = "BTC"\nquote = "USD"\nkind = "ccxt"\n'
    wrong += 'exchange = "kraken"\nsymbol = "BTC/USD"\nstart = 2024-02-28\nfile = "btc_usd.csv"\n'
    desk.configure(tmp_path / "wrong.toml", extra=wrong)
    with pytest.raises(InvalidInput) as refused:
        market_load.load_market(desk.reserve, actor="system")
    assert [str(p) for p in refused.value.problems] == [
        'wrong.toml: sources.5.file: kind = "ccxt" takes no file; leave it out'
    ]
    with desk.reserve.reading() as uow:
        assert uow.market.loaded_sources() == []
    assert desk.binance.requests == []


def test_a_daily_candle_is_a_utc_day_or_the_exchange_is_not_believed(desk: Desk) -> None:
    def eight_hours_late(path: str, query: dict[str, list[str]]) -> tuple[int, str, str]:
        """A venue cutting its days at 08:00 UTC: its daily close is not D's close."""
        status, kind, body = desk.exchange(path, query)
        if path != "/api/v3/klines":
            return status, kind, body
        candles = json.loads(body)
        return status, kind, json.dumps([[c[0] + 8 * HOUR_MS, *c[1:]] for c in candles])

    server = LocalServer(eight_hours_late)
    source = ExchangeSource("binance", api_url=server.url, clock=lambda: desk.now[0])
    try:
        with source, pytest.raises(SourceUnavailable, match="does not open at 00:00 UTC"):
            source.daily_closes("BTC/USDT", date(2024, 2, 26), date(2024, 3, 1))
    finally:
        server.stop()
