"""The network price sources against local servers that answer like the real ones.

``ExchangeSource("binance")`` goes through ccxt's real flow: ``load_markets`` asks
``GET /api/v3/exchangeInfo`` (spot only: the futures APIs are switched off for a fix), then
``fetch_ohlcv`` asks ``GET /api/v3/klines``. The fake Binance serves hourly BTCUSDT candles around
Almaty's 2024-03-01 change of offset, so the candle chosen for the 16:00 cut-off is checked on
both sides of it. ``NationalBankRates`` is served an NBK-style ``<rates>`` document.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import pairwise
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from reserve.adapters.price_sources import ExchangeSource, NationalBankRates, SourceUnavailable
from reserve.core.errors import InvalidInput
from reserve.market.fix import FixMethod, cutoff_utc

HOUR_MS = 3_600_000
FIRST_OPEN = datetime(2024, 2, 28, tzinfo=UTC)
LAST_OPEN = datetime(2024, 3, 2, 23, tzinfo=UTC)
PAGE = 24  # Binance gives up to 1000 candles a request; a smaller page here makes paging happen
METHOD = FixMethod(
    version="fix-1",
    cutoff="16:00",
    timezone="Asia/Almaty",
    staleness_hours=24,
    outlier_pct=Decimal(2),
    min_sources=2,
)
EXCHANGE_INFO: dict[str, Any] = {
    "timezone": "UTC",
    "serverTime": 1709200000000,
    "rateLimits": [],
    "exchangeFilters": [],
    "symbols": [
        {
            "symbol": "BTCUSDT",
            "status": "TRADING",
            "baseAsset": "BTC",
            "baseAssetPrecision": 8,
            "quoteAsset": "USDT",
            "quotePrecision": 8,
            "quoteAssetPrecision": 8,
            "baseCommissionPrecision": 8,
            "quoteCommissionPrecision": 8,
            "orderTypes": ["LIMIT", "MARKET"],
            "icebergAllowed": True,
            "ocoAllowed": True,
            "isSpotTradingAllowed": True,
            "isMarginTradingAllowed": False,
            "filters": [
                {
                    "filterType": "PRICE_FILTER",
                    "minPrice": "0.01000000",
                    "maxPrice": "1000000.00000000",
                    "tickSize": "0.01000000",
                },
                {
                    "filterType": "LOT_SIZE",
                    "minQty": "0.00001000",
                    "maxQty": "9000.00000000",
                    "stepSize": "0.00001000",
                },
            ],
            "permissions": ["SPOT"],
        }
    ],
}


def close_of(open_ms: int) -> str:
    """The close of the candle opened at ``open_ms``: 60000 + hours since 2024-02-28, + .12345678,
    so every candle is told apart and the digits survive ccxt's floats."""
    hours = (open_ms - int(FIRST_OPEN.timestamp() * 1000)) // HOUR_MS
    return f"{60000 + hours}.12345678"


def _klines(query: dict[str, list[str]]) -> list[list[Any]]:
    assert query["symbol"] == ["BTCUSDT"]
    assert query["interval"] == ["1h"]
    start = int(query.get("startTime", ["0"])[0])
    limit = min(int(query.get("limit", ["500"])[0]), PAGE)
    first = max(start, int(FIRST_OPEN.timestamp() * 1000))
    first += -first % HOUR_MS  # the first candle opening at or after startTime
    last = int(LAST_OPEN.timestamp() * 1000)
    candles = []
    for open_ms in range(first, last + 1, HOUR_MS)[:limit]:
        close = close_of(open_ms)
        candles.append(
            [open_ms, "59999.00000000", "60500.00000000", "59000.00000000", close,
             "12.50000000", open_ms + HOUR_MS - 1, "750000.00000000", 1000, "6.0", "360000.0", "0"]
        )  # fmt: skip
    return candles


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        server: Any = self.server
        url = urlsplit(self.path)
        server.requests.append(url.path + ("?" + url.query if url.query else ""))
        status, kind, body = server.answer(url.path, parse_qs(url.query))
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_: Any) -> None:
        """Quiet: the test output is the assertions."""


class LocalServer:
    def __init__(self, answer: Any) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.answer = answer  # type: ignore[attr-defined]
        self.server.requests = []  # type: ignore[attr-defined]
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def requests(self) -> list[str]:
        return self.server.requests  # type: ignore[attr-defined,no-any-return]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def _binance(path: str, query: dict[str, list[str]]) -> tuple[int, str, str]:
    if path == "/api/v3/exchangeInfo":
        return 200, "application/json", json.dumps(EXCHANGE_INFO)
    if path == "/api/v3/klines":
        return 200, "application/json", json.dumps(_klines(query))
    return 404, "application/json", json.dumps({"code": -1, "msg": f"no {path} here"})


@pytest.fixture
def fake_binance() -> Iterator[LocalServer]:
    server = LocalServer(_binance)
    yield server
    server.stop()


def _source(
    server: LocalServer, now: datetime = datetime(2024, 3, 5, tzinfo=UTC)
) -> ExchangeSource:
    return ExchangeSource("binance", api_url=server.url, clock=lambda: now)


def test_the_candle_before_the_cutoff_is_taken_on_both_sides_of_the_change(
    fake_binance: LocalServer,
) -> None:
    usdt = Decimal("0.9995")
    with _source(fake_binance) as binance:
        before = binance.quote_at("BTC/USDT", cutoff_utc(date(2024, 2, 29), METHOD), usdt_fix=usdt)
        after = binance.quote_at("BTC/USDT", cutoff_utc(date(2024, 3, 1), METHOD), usdt_fix=usdt)
    # 2024-02-29: cut-off 10:00 UTC, the 09:00-10:00 candle (open 33 h after 02-28 00:00)
    assert before.observed_at == datetime(2024, 2, 29, 10, tzinfo=UTC)
    assert before.raw == Decimal(
        close_of(int(datetime(2024, 2, 29, 9, tzinfo=UTC).timestamp() * 1000))
    )
    assert before.raw == Decimal("60033.12345678")
    # 2024-03-01: cut-off 11:00 UTC, the 10:00-11:00 candle
    assert after.observed_at == datetime(2024, 3, 1, 11, tzinfo=UTC)
    assert after.raw == Decimal("60058.12345678")
    assert (after.quote, after.source) == ("USDT", "binance")
    assert after.value == Decimal("60058.12345678") * usdt  # converted, never taken as USD
    paths = [r.split("?")[0] for r in fake_binance.requests]
    assert paths[0] == "/api/v3/exchangeInfo"  # ccxt's load_markets, spot only, once
    assert paths.count("/api/v3/exchangeInfo") == 1
    assert set(paths[1:]) == {"/api/v3/klines"}


def test_a_candle_still_open_is_not_a_close(fake_binance: LocalServer) -> None:
    now = datetime(2024, 3, 1, 10, 30, tzinfo=UTC)  # before the 11:00 UTC cut-off
    with _source(fake_binance, now) as binance:
        quote = binance.quote_at(
            "BTC/USDT", cutoff_utc(date(2024, 3, 1), METHOD), usdt_fix=Decimal(1)
        )
    assert quote.observed_at == datetime(2024, 3, 1, 10, tzinfo=UTC)


def test_hourly_closes_page_through_the_range(fake_binance: LocalServer) -> None:
    since = datetime(2024, 2, 28, tzinfo=UTC)
    with _source(fake_binance) as binance:
        closes = binance.hourly_closes("BTC/USDT", since, datetime(2024, 3, 1, 12, tzinfo=UTC))
    assert len(closes) == 60
    assert closes[0] == (datetime(2024, 2, 28, 1, tzinfo=UTC), Decimal("60000.12345678"))
    assert closes[-1] == (datetime(2024, 3, 1, 12, tzinfo=UTC), Decimal("60059.12345678"))
    assert all(b[0] - a[0] == timedelta(hours=1) for a, b in pairwise(closes))
    starts = [parse_qs(urlsplit(r).query)["startTime"][0] for r in fake_binance.requests[1:]]
    assert [int(s) for s in starts] == [
        int((since + timedelta(hours=h)).timestamp() * 1000) for h in (0, 24, 48)
    ]


def test_a_usdt_close_without_the_usdt_fix_is_refused(fake_binance: LocalServer) -> None:
    with (
        _source(fake_binance) as binance,
        pytest.raises(InvalidInput, match="no USDT fix for 2024-03-01"),
    ):
        binance.quote_at("BTC/USDT", cutoff_utc(date(2024, 3, 1), METHOD))
    assert fake_binance.requests == []  # refused before asking


def test_an_unknown_symbol_or_exchange_is_bad_input(fake_binance: LocalServer) -> None:
    with _source(fake_binance) as binance, pytest.raises(InvalidInput, match="symbol"):
        binance.quote_at("DOGE/USD", cutoff_utc(date(2024, 3, 1), METHOD))
    with pytest.raises(InvalidInput, match="not a ccxt exchange"):
        ExchangeSource("no-such-exchange")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_an_unreachable_exchange_is_unavailable() -> None:
    source = ExchangeSource(
        "binance", api_url=f"http://127.0.0.1:{_closed_port()}", timeout_ms=2000
    )
    with source, pytest.raises(SourceUnavailable, match="binance BTC/USDT"):
        source.hourly_closes(
            "BTC/USDT", datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 1, 11, tzinfo=UTC)
        )


# -- the National Bank of Kazakhstan -------------------------------------------------------

NBK_DOC = """<?xml version="1.0" encoding="utf-8"?>
<rates>
  <generator>www.nationalbank.kz</generator>
  <title>Official exchange rates of National Bank of Republic Kazakhstan</title>
  <link>https://nationalbank.kz</link>
  <description>Official exchange rates of National Bank of Republic Kazakhstan</description>
  <copyright>TOO, NBRK</copyright>
  <date>{date}</date>
  <item>
    <fullname>АВСТРАЛИЙСКИЙ ДОЛЛАР</fullname>
    <title>AUD</title>
    <description>294.42</description>
    <quant>1</quant>
    <index>DOWN</index>
    <change>-1.05</change>
  </item>
  <item>
    <fullname>ДОЛЛАР США</fullname>
    <title>USD</title>
    <description>{usd}</description>
    <quant>{quant}</quant>
    <index>UP</index>
    <change>0.12</change>
  </item>
</rates>
"""


def _nbk(answers: dict[str, tuple[int, str]]) -> Any:
    def answer(path: str, query: dict[str, list[str]]) -> tuple[int, str, str]:
        assert path == "/rss/get_rates.cfm"
        status, body = answers[query["fdate"][0]]
        return status, "text/xml; charset=utf-8", body

    return answer


@pytest.fixture
def fake_nbk() -> Iterator[LocalServer]:
    server = LocalServer(
        _nbk(
            {
                "29.02.2024": (200, NBK_DOC.format(date="29.02.2024", usd="450.53", quant="1")),
                "01.03.2024": (200, NBK_DOC.format(date="01.03.2024", usd="4497,6", quant="10")),
                "02.03.2024": (200, NBK_DOC.format(date="03.03.2024", usd="449.5", quant="1")),
                "03.03.2024": (
                    200,
                    NBK_DOC.replace("<title>USD</title>", "<title>EUR</title>").format(
                        date="03.03.2024", usd="1", quant="1"
                    ),
                ),
                "04.03.2024": (200, "<rates><date>04.03.2024</date><item>"),
                "05.03.2024": (500, "Internal Server Error"),
                "06.03.2024": (200, NBK_DOC.format(date="06.03.2024", usd="0", quant="1")),
            }
        )
    )
    yield server
    server.stop()


def test_the_usd_rate_is_read_per_unit_and_dated_by_the_bank(fake_nbk: LocalServer) -> None:
    nbk = NationalBankRates(base_url=f"{fake_nbk.url}/rss/get_rates.cfm")
    first = nbk.usd_on(date(2024, 2, 29))
    assert (first.day, first.value) == (date(2024, 2, 29), Decimal("450.53"))
    per_ten = nbk.usd_on(date(2024, 3, 1))  # a comma decimal mark, per 10 dollars
    assert (per_ten.day, per_ten.value) == (date(2024, 3, 1), Decimal("449.76"))
    assert fake_nbk.requests == [
        "/rss/get_rates.cfm?fdate=29.02.2024",
        "/rss/get_rates.cfm?fdate=01.03.2024",
    ]


@pytest.mark.parametrize(
    ("day", "words"),
    [
        (date(2024, 3, 2), "dated 2024-03-03"),
        (date(2024, 3, 3), "no USD item"),
        (date(2024, 3, 4), "not XML"),
        (date(2024, 3, 5), "500"),
        (date(2024, 3, 6), "unusable"),
    ],
)
def test_a_bad_answer_is_unavailable_not_a_rate(
    fake_nbk: LocalServer, day: date, words: str
) -> None:
    nbk = NationalBankRates(base_url=f"{fake_nbk.url}/rss/get_rates.cfm")
    with pytest.raises(SourceUnavailable, match=words):
        nbk.usd_on(day)


def test_an_unreachable_bank_is_unavailable_and_file_urls_are_refused() -> None:
    nbk = NationalBankRates(base_url=f"http://127.0.0.1:{_closed_port()}/rss", timeout_s=2)
    with pytest.raises(SourceUnavailable, match="NBK rates for 2024-03-01"):
        nbk.usd_on(date(2024, 3, 1))
    with pytest.raises(InvalidInput, match="not an http"):
        NationalBankRates(base_url="file:///etc/passwd")
