"""Where prices come from: the bundled daily files, an exchange through ccxt, the National Bank.

Each source is read here and judged in ``reserve.market``: files through ``parse_price_csv``,
exchange candles and NBK rates into the same ``SourceQuote`` / ``PriceRow`` the fix works on.
``DailySource`` is what loading sees of all three: a daily series in the source's own quote
(``BundledFile``, ``ExchangeDaily``, ``NbkDaily``), chosen from the configuration by
``source_for``; converting a USDT close to USD is the fix's business, never the loader's.
An exchange or the National Bank that cannot be reached, or answers nonsense, raises
``SourceUnavailable``; a question this code cannot answer (unknown exchange or symbol, a USDT
price without a USDT fix) raises ``InvalidInput``.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Final, Protocol
from urllib.parse import urlsplit, urlunsplit

import ccxt

from reserve.core.clock import Clock, utc_now
from reserve.core.errors import InvalidInput, ReserveError
from reserve.market.config import MarketConfig, RatesSpec, parse_market_config
from reserve.market.fix import SourceQuote
from reserve.market.prices import PriceRow, SourceSpec, parse_price_csv
from reserve.market.quotes import conversion_problem, in_usd

HOUR_MS: Final = 3_600_000
DAY_MS: Final = 24 * HOUR_MS
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


def _file_and_column(spec: SourceSpec | RatesSpec) -> tuple[str, str]:
    if spec.file is None or spec.column is None:
        raise InvalidInput.one(f"{spec.kind} source", "file", "is not read from a file")
    return spec.file, spec.column


def load_bundled(folder: Path, spec: SourceSpec, today: date) -> list[PriceRow]:
    """The daily series of ``spec`` from its file in ``folder``; errors name the file and line."""
    file, column = _file_and_column(spec)
    return parse_price_csv(_read(folder / file), where=file, column=column, today=today)


def load_rates(folder: Path, spec: RatesSpec, today: date) -> list[PriceRow]:
    """The daily USD/KZT series named in the configuration."""
    file, column = _file_and_column(spec)
    return parse_price_csv(_read(folder / file), where=file, column=column, today=today)


def _midnight_ms(day: date) -> int:
    return int(datetime.combine(day, time(0), tzinfo=UTC).timestamp() * 1000)


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

    def _candles(self, symbol: str, timeframe: str, since_ms: int) -> list[list[Any]]:
        try:
            candles: list[list[Any]] = self._exchange.fetch_ohlcv(symbol, timeframe, since_ms, 1000)
        except ccxt.BadSymbol as error:
            raise InvalidInput.one(self.exchange_id, "symbol", str(error)) from None
        except ccxt.BaseError as error:
            detail = f"{type(error).__name__}: {error}"
            raise SourceUnavailable(f"{self.exchange_id} {symbol}: {detail}") from None
        return candles

    def _closed(
        self, symbol: str, timeframe: str, step_ms: int, since_ms: int, until_ms: int
    ) -> list[tuple[int, Decimal]]:
        """``(open ms, close)`` of every candle opened at or after ``since_ms`` and closed at or
        before ``until_ms`` and now, following the exchange's pages."""
        until_ms = min(until_ms, int(self._clock().timestamp() * 1000))
        closes: list[tuple[int, Decimal]] = []
        cursor = since_ms
        while cursor + step_ms <= until_ms:
            candles = self._candles(symbol, timeframe, cursor)
            if not candles:
                break
            for candle in candles:
                open_ms = int(candle[0])
                if open_ms < cursor or open_ms + step_ms > until_ms or candle[4] is None:
                    continue
                # ccxt turns the exchange's decimal strings into floats; str() gives back the
                # shortest text of that float (Binance's "4800.00000000" -> "4800.0"), which is
                # the exchange's number. Nothing here ever computes with the float itself.
                closes.append((open_ms, Decimal(str(candle[4]))))
            next_cursor = int(candles[-1][0]) + step_ms
            if next_cursor <= cursor:
                raise SourceUnavailable(f"{self.exchange_id} {symbol}: candles do not advance")
            cursor = next_cursor
        return closes

    def hourly_closes(
        self, symbol: str, since: datetime, until: datetime
    ) -> list[tuple[datetime, Decimal]]:
        """``(close time, close)`` of every hourly candle opened at or after ``since`` and closed
        at or before ``until`` (and before now: a candle still open has no close yet)."""
        if since.tzinfo is None or until.tzinfo is None:
            raise InvalidInput.one(self.exchange_id, "since/until", "times must carry a zone")
        since_ms = int(since.timestamp() * 1000)
        until_ms = int(until.timestamp() * 1000)
        return [
            (datetime.fromtimestamp((open_ms + HOUR_MS) / 1000, UTC), close)
            for open_ms, close in self._closed(symbol, "1h", HOUR_MS, since_ms, until_ms)
        ]

    def daily_closes(self, symbol: str, since: date, until: date) -> list[PriceRow]:
        """The close of every UTC day from ``since`` to ``until`` whose daily candle has closed.

        A row ``D`` is the close of the candle open from ``D`` 00:00 to ``D+1`` 00:00 UTC, the
        same meaning a row of a bundled file has; the candle of a day still running by the clock
        has no close yet and is left out, so it is fetched on a later day, not stored half-made.
        """
        since_ms = _midnight_ms(since)
        until_ms = _midnight_ms(until + timedelta(days=1))
        rows: list[PriceRow] = []
        for open_ms, close in self._closed(symbol, "1d", DAY_MS, since_ms, until_ms):
            where = f"{self.exchange_id} {symbol}: the daily candle opened at {open_ms} ms"
            if open_ms % DAY_MS:
                # some venues cut their days at another hour; such a close is not D's close
                raise SourceUnavailable(f"{where} does not open at 00:00 UTC")
            if not (close.is_finite() and close > 0):
                raise SourceUnavailable(f"{where} closed at {close}")
            day = datetime.fromtimestamp(open_ms / 1000, UTC).date()
            if rows and day <= rows[-1].day:
                raise SourceUnavailable(f"{where} comes after {rows[-1].day}")
            rows.append(PriceRow(day=day, value=close))
        return rows

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


# -- one interface for loading -------------------------------------------------------------


class DailySource(Protocol):
    """A daily series as loading sees it, whichever source it comes from.

    ``daily`` gives the closes of ``start`` to ``end`` in the source's own quote, ascending, one
    per day, none after ``today`` (a file gives all it holds: it is read whole and checked whole).
    ``name`` is how problems name the source (its file, exchange and symbol, the Bank);
    ``close`` lets go of a network session.
    """

    @property
    def name(self) -> str: ...

    def daily(self, start: date, end: date, *, today: date) -> list[PriceRow]: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class BundledFile:
    """A bundled daily file in the prices folder: read whole, refused whole on one bad line."""

    folder: Path
    spec: SourceSpec | RatesSpec

    @property
    def name(self) -> str:
        return _file_and_column(self.spec)[0]

    @property
    def path(self) -> Path:
        return self.folder / self.name

    def daily(self, start: date, end: date, *, today: date) -> list[PriceRow]:
        if isinstance(self.spec, RatesSpec):
            return load_rates(self.folder, self.spec, today)
        return load_bundled(self.folder, self.spec, today)

    def close(self) -> None:
        """Nothing held open."""


@dataclass(frozen=True)
class ExchangeDaily:
    """The daily candles of one symbol on one exchange, in the symbol's quote currency."""

    exchange: ExchangeSource
    symbol: str

    @property
    def name(self) -> str:
        return f"{self.exchange.exchange_id} {self.symbol}"

    def daily(self, start: date, end: date, *, today: date) -> list[PriceRow]:
        return self.exchange.daily_closes(self.symbol, start, min(end, today))

    def close(self) -> None:
        self.exchange.close()


@dataclass(frozen=True)
class NbkDaily:
    """The National Bank's official USD/KZT rate, asked for day by day.

    On a day without a publication (a holiday) the Bank answers with its last rate, dated
    earlier; that rate is already the row of its own day, so the day is skipped.
    """

    rates: NationalBankRates

    @property
    def name(self) -> str:
        return "NBK USD/KZT"

    def daily(self, start: date, end: date, *, today: date) -> list[PriceRow]:
        rows: list[PriceRow] = []
        day = start
        while day <= min(end, today):
            row = self.rates.usd_on(day)
            if row.day == day:
                rows.append(row)
            day += timedelta(days=1)
        return rows

    def close(self) -> None:
        """Nothing held open: each request opens and closes its own connection."""


def source_for(
    spec: SourceSpec | RatesSpec, *, folder: Path, clock: Clock = utc_now
) -> DailySource:
    """The source a configured ``spec`` describes; ``clock`` decides which candles have closed."""
    if spec.kind == "ccxt" and isinstance(spec, SourceSpec):
        if spec.exchange is None or spec.symbol is None:
            raise InvalidInput.one(spec.name, "exchange", "a ccxt source needs exchange and symbol")
        return ExchangeDaily(
            ExchangeSource(spec.exchange, api_url=spec.api_url, clock=clock), spec.symbol
        )
    if spec.kind == "nbk" and isinstance(spec, RatesSpec):
        return NbkDaily(NationalBankRates(base_url=spec.base_url or NBK_RATES_URL))
    return BundledFile(folder, spec)
