"""Where prices come from: the bundled daily files, an exchange through ccxt, the National Bank.

Each source is read here and judged in ``reserve.market``: files through ``parse_price_csv``,
exchange candles and NBK rates into the same ``SourceQuote`` / ``PriceRow`` the fix works on.
An exchange or the National Bank that cannot be reached, or answers nonsense, raises
``SourceUnavailable``; a question this code cannot answer (unknown exchange or symbol, a USDT
price without a USDT fix) raises ``InvalidInput``.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
import xml.etree.ElementTree as ElementTree
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

import ccxt

from reserve.core.clock import Clock, utc_now
from reserve.core.errors import InvalidInput, ReserveError
from reserve.market.config import MarketConfig, RatesSpec, parse_market_config
from reserve.market.fix import SourceQuote
from reserve.market.prices import PriceRow, SourceSpec, parse_price_csv
from reserve.market.quotes import conversion_problem, in_usd

HOUR_MS: Final = 3_600_000
NBK_RATES_URL: Final = "https://nationalbank.kz/rss/get_rates.cfm"
_NUMBER: Final = re.compile(r"^\d+(\.\d+)?$")
_NBK_DATE: Final = re.compile(r"^(?P<d>\d{2})\.(?P<m>\d{2})\.(?P<y>\d{4})$")


class SourceUnavailable(ReserveError):
    """A price or rate source could not be reached, or its answer made no sense."""


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as error:
        raise InvalidInput.one(path.name, "file", f"cannot read it: {error.strerror}") from None
    except UnicodeDecodeError:
        raise InvalidInput.one(path.name, "file", "is not UTF-8 text") from None


def load_market_config(path: Path) -> MarketConfig:
    return parse_market_config(_read(path), path.name)


def load_bundled(folder: Path, spec: SourceSpec, today: date) -> list[PriceRow]:
    """The daily series of ``spec`` from its file in ``folder``; errors name the file and line."""
    text = _read(folder / spec.file)
    return parse_price_csv(text, where=spec.file, column=spec.column, today=today)


def load_rates(folder: Path, spec: RatesSpec, today: date) -> list[PriceRow]:
    """The daily USD/KZT series named in the configuration."""
    text = _read(folder / spec.file)
    return parse_price_csv(text, where=spec.file, column=spec.column, today=today)


def _rebase(urls: Any, base: str) -> Any:
    """Every URL in ccxt's ``urls['api']`` tree moved to ``base``'s scheme and host, path kept."""
    if isinstance(urls, dict):
        return {key: _rebase(value, base) for key, value in urls.items()}
    if isinstance(urls, str):
        target = urlsplit(base)
        parts = urlsplit(urls)
        return urlunsplit((target.scheme, target.netloc, parts.path, parts.query, parts.fragment))
    return urls


class ExchangeSource:
    """Hourly candles of one exchange through ccxt, for a quote at a cut-off.

    ``api_url`` replaces the exchange's scheme and host (a test server, a regional mirror).
    """

    def __init__(
        self,
        exchange_id: str,
        *,
        api_url: str | None = None,
        timeout_ms: int = 10_000,
        clock: Clock = utc_now,
    ) -> None:
        if exchange_id not in ccxt.exchanges:
            raise InvalidInput.one("exchange", "id", f"{exchange_id!r} is not a ccxt exchange")
        settings: dict[str, Any] = {"timeout": timeout_ms}
        if exchange_id == "binance":
            # a fix is a spot price; without this, loading markets also asks the two futures APIs
            settings["options"] = {"fetchMarkets": {"types": ["spot"]}}
        self.exchange_id = exchange_id
        self._exchange = getattr(ccxt, exchange_id)(settings)
        self._clock = clock
        if api_url is not None:
            self._exchange.urls["api"] = _rebase(self._exchange.urls["api"], api_url)

    def close(self) -> None:
        self._exchange.close()

    def __enter__(self) -> ExchangeSource:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _candles(self, symbol: str, since_ms: int) -> list[list[Any]]:
        try:
            candles: list[list[Any]] = self._exchange.fetch_ohlcv(symbol, "1h", since_ms, 1000)
        except ccxt.BadSymbol as error:
            raise InvalidInput.one(self.exchange_id, "symbol", str(error)) from None
        except ccxt.BaseError as error:
            detail = f"{type(error).__name__}: {error}"
            raise SourceUnavailable(f"{self.exchange_id} {symbol}: {detail}") from None
        return candles

    def hourly_closes(
        self, symbol: str, since: datetime, until: datetime
    ) -> list[tuple[datetime, Decimal]]:
        """``(close time, close)`` of every hourly candle opened at or after ``since`` and closed
        at or before ``until`` (and before now: a candle still open has no close yet)."""
        if since.tzinfo is None or until.tzinfo is None:
            raise InvalidInput.one(self.exchange_id, "since/until", "times must carry a zone")
        since_ms = int(since.timestamp() * 1000)
        until_ms = int(min(until, self._clock()).timestamp() * 1000)
        closes: list[tuple[datetime, Decimal]] = []
        cursor = since_ms
        while cursor + HOUR_MS <= until_ms:
            candles = self._candles(symbol, cursor)
            if not candles:
                break
            for candle in candles:
                open_ms = int(candle[0])
                if open_ms < cursor or open_ms + HOUR_MS > until_ms or candle[4] is None:
                    continue
                # ccxt turns the exchange's decimal strings into floats; str() gives back the
                # shortest text of that float (Binance's "4800.00000000" -> "4800.0"), which is
                # the exchange's number. Nothing here ever computes with the float itself.
                close = Decimal(str(candle[4]))
                closes.append((datetime.fromtimestamp((open_ms + HOUR_MS) / 1000, UTC), close))
            next_cursor = int(candles[-1][0]) + HOUR_MS
            if next_cursor <= cursor:
                raise SourceUnavailable(f"{self.exchange_id} {symbol}: candles do not advance")
            cursor = next_cursor
        return closes

    def quote_at(
        self,
        symbol: str,
        cutoff_utc: datetime,
        *,
        usdt_fix: Decimal | None = None,
        lookback: timedelta = timedelta(hours=24),
    ) -> SourceQuote:
        """The close of the last hourly candle closed at or before ``cutoff_utc``, in USD.

        ``symbol`` is ccxt's unified symbol; its quote currency decides the conversion: a
        ``BTC/USDT`` close is in USDT and needs ``usdt_fix`` (the USDT fix of the same day).
        """
        quote = symbol.split("/")[-1].split(":")[0]
        asset = symbol.split("/")[0]
        problem = conversion_problem(
            asset=asset, quote=quote, usdt_fix=usdt_fix, day=cutoff_utc.date()
        )
        if problem is not None:
            raise InvalidInput.one(f"{self.exchange_id} {symbol}", "quote", problem)
        closes = self.hourly_closes(symbol, cutoff_utc - lookback, cutoff_utc)
        if not closes:
            reason = f"no hourly candle of {symbol} closed in the {lookback} up to {cutoff_utc}"
            raise SourceUnavailable(f"{self.exchange_id}: {reason}")
        closed_at, raw = closes[-1]
        return SourceQuote(
            source=self.exchange_id,
            value=in_usd(raw, quote=quote, usdt_fix=usdt_fix),
            observed_at=closed_at,
            quote=quote,
            raw=raw,
        )


class NationalBankRates:
    """The National Bank of Kazakhstan's official rates, one day per request (its RSS/XML)."""

    def __init__(self, *, base_url: str = NBK_RATES_URL, timeout_s: float = 10.0) -> None:
        if urlsplit(base_url).scheme not in ("http", "https"):
            raise InvalidInput.one("NBK", "base_url", f"{base_url!r} is not an http(s) URL")
        self.base_url = base_url
        self.timeout_s = timeout_s

    def usd_on(self, day: date) -> PriceRow:
        """Tenge per dollar set for ``day`` (dated as the National Bank dates it)."""
        url = f"{self.base_url}?fdate={day:%d.%m.%Y}"
        try:
            # the scheme was checked in __init__: http(s) only, never file:
            with urllib.request.urlopen(url, timeout=self.timeout_s) as response:  # noqa: S310
                body: bytes = response.read()
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            raise SourceUnavailable(f"NBK rates for {day}: {error}") from None
        return parse_nbk_rates(body, day)


def parse_nbk_rates(body: bytes, day: date) -> PriceRow:
    """The USD rate in an NBK ``<rates>`` document (``description`` per ``quant`` units)."""
    try:
        # stdlib expat (>= 2.4.1) refuses entity-expansion bombs and ElementTree never fetches
        # external entities, which is all defusedxml would add for this one small document
        root = ElementTree.fromstring(body)  # noqa: S314
    except ElementTree.ParseError as error:
        raise SourceUnavailable(f"NBK rates for {day}: not XML ({error})") from None
    found = _NBK_DATE.match((root.findtext("date") or "").strip())
    try:
        published = date(int(found["y"]), int(found["m"]), int(found["d"])) if found else None
    except ValueError:
        published = None
    if published is None:
        raise SourceUnavailable(f"NBK rates for {day}: no date DD.MM.YYYY in the answer")
    if root.tag != "rates" or published > day:
        raise SourceUnavailable(f"NBK rates for {day}: the answer is dated {published}")
    usd = next((i for i in root.iter("item") if (i.findtext("title") or "") == "USD"), None)
    if usd is None:
        raise SourceUnavailable(f"NBK rates for {day}: no USD item")
    # a comma is the decimal mark in some of the Bank's Russian-locale answers
    text = (usd.findtext("description") or "").strip().replace(",", ".")
    quant = (usd.findtext("quant") or "1").strip()
    if not _NUMBER.match(text) or not quant.isdigit() or int(quant) == 0 or Decimal(text) == 0:
        raise SourceUnavailable(f"NBK rates for {day}: USD rate {text!r} per {quant!r} is unusable")
    return PriceRow(day=published, value=Decimal(text) / int(quant))
