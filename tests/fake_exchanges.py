"""Local HTTP servers that answer like Binance's spot API and the National Bank's rates page.

``LocalServer`` serves whatever its ``answer(path, query)`` says and records every request.
``FakeBinance`` is an answer with the two endpoints ccxt's binance uses for candles:
``GET /api/v3/exchangeInfo`` (``load_markets``, spot only) and ``GET /api/v3/klines``, for
BTCUSDT candles of one interval, a small page at a time so that paging happens. ``nbk_answer``
serves NBK-style ``<rates>`` documents by the ``fdate`` asked for.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
INTERVAL_MS = {"1h": HOUR_MS, "1d": DAY_MS}
Answer = Callable[[str, dict[str, list[str]]], tuple[int, str, str]]

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


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


@dataclass
class FakeBinance:
    """BTCUSDT candles of ``interval`` opening from ``first`` to ``last``, ``close(open_ms)``
    each, at most ``page`` per request. ``last`` may be moved on between requests, as time
    passes on a real exchange (whose latest candle is the one still open)."""

    interval: str
    first: datetime
    last: datetime
    close: Callable[[int], str]
    page: int = 24

    def klines(self, query: dict[str, list[str]]) -> list[list[Any]]:
        assert query["symbol"] == ["BTCUSDT"]
        assert query["interval"] == [self.interval]
        step = INTERVAL_MS[self.interval]
        start = int(query.get("startTime", ["0"])[0])
        limit = min(int(query.get("limit", ["500"])[0]), self.page)
        first = max(start, ms(self.first))
        first += -first % step  # the first candle opening at or after startTime
        candles = []
        for open_ms in range(first, ms(self.last) + 1, step)[:limit]:
            close = self.close(open_ms)
            candles.append(
                [open_ms, "59999.00000000", "60500.00000000", "59000.00000000", close,
                 "12.50000000", open_ms + step - 1, "750000.00000000", 1000, "6.0", "360000.0",
                 "0"]
            )  # fmt: skip
        return candles

    def __call__(self, path: str, query: dict[str, list[str]]) -> tuple[int, str, str]:
        if path == "/api/v3/exchangeInfo":
            return 200, "application/json", json.dumps(EXCHANGE_INFO)
        if path == "/api/v3/klines":
            return 200, "application/json", json.dumps(self.klines(query))
        return 404, "application/json", json.dumps({"code": -1, "msg": f"no {path} here"})


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
    def __init__(self, answer: Answer) -> None:
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
        """Stop serving (again is nothing): a stopped server is how a test makes one unreachable."""
        if not self.thread.is_alive():
            return
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def closed_port() -> int:
    """A port nothing listens on (bound, read, released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


NBK_PATH = "/rss/get_rates.cfm"
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


def nbk_answer(answers: Mapping[str, tuple[int, str]]) -> Answer:
    """The Bank's rates page: ``answers[fdate]`` is the ``(status, body)`` of that day."""

    def answer(path: str, query: dict[str, list[str]]) -> tuple[int, str, str]:
        assert path == NBK_PATH
        status, body = answers[query["fdate"][0]]
        return status, "text/xml; charset=utf-8", body

    return answer
