"""The network price sources against local servers that answer like the real ones.

``ExchangeSource("binance")`` goes through ccxt's real flow: ``load_markets`` asks
``GET /api/v3/exchangeInfo`` (spot only: the futures APIs are switched off for a fix), then
``fetch_ohlcv`` asks ``GET /api/v3/klines``. The fake Binance serves hourly BTCUSDT candles around
Almaty's 2024-03-01 change of offset, so the candle chosen for the 16:00 cut-off is checked on
both sides of it. ``NationalBankRates`` is served an NBK-style ``<rates>`` document. The servers
are in ``tests/fake_exchanges.py``, shared with the loading tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from urllib.parse import parse_qs, urlsplit

import pytest

from reserve.adapters.price_sources import ExchangeSource, NationalBankRates, SourceUnavailable
from reserve.core.errors import InvalidInput
from reserve.market.fix import FixMethod, cutoff_utc

from fake_exchanges import HOUR_MS, NBK_DOC, FakeBinance, LocalServer, closed_port, nbk_answer

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


def close_of(open_ms: int) -> str:
    """The close of the candle opened at ``open_ms``: 60000 + hours since 2024-02-28, + .12345678,
    so every candle is told apart and the digits survive ccxt's floats."""
    hours = (open_ms - int(FIRST_OPEN.timestamp() * 1000)) // HOUR_MS
    return f"{60000 + hours}.12345678"


@pytest.fixture
def fake_binance() -> Iterator[LocalServer]:
    server = LocalServer(FakeBinance("1h", FIRST_OPEN, LAST_OPEN, close_of, page=PAGE))
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


def test_an_unreachable_exchange_is_unavailable() -> None:
    source = ExchangeSource("binance", api_url=f"http://127.0.0.1:{closed_port()}", timeout_ms=2000)
    with source, pytest.raises(SourceUnavailable, match="binance BTC/USDT"):
        source.hourly_closes(
            "BTC/USDT", datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 1, 11, tzinfo=UTC)
        )


# -- the National Bank of Kazakhstan -------------------------------------------------------


@pytest.fixture
def fake_nbk() -> Iterator[LocalServer]:
    server = LocalServer(
        nbk_answer(
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
    nbk = NationalBankRates(base_url=f"http://127.0.0.1:{closed_port()}/rss", timeout_s=2)
    with pytest.raises(SourceUnavailable, match="NBK rates for 2024-03-01"):
        nbk.usd_on(date(2024, 3, 1))
    with pytest.raises(InvalidInput, match="not an http"):
        NationalBankRates(base_url="file:///etc/passwd")
