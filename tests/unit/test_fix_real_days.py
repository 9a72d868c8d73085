"""BTC fixes on real days, checked against a reference computed independently with pandas.

The reference does not call the market package: it reads the bundled CSVs with pandas, moves
every close one day later (the close of D-1 is what is known at D's 16:00 Almaty cut-off), makes
the USDT fix from the two USDT files, converts Binance's USDT closes through it, and applies the
median / 2 % outlier / median rule column-wise over all days at once.

Why Decimals inside pandas: the files carry up to 17 significant digits (Yahoo's float32 noise,
CoinGecko's 16-digit floats) and a Binance close times a USDT fix has about 30, which float64
(15-17 digits) cannot hold; the reserve books to the exact Decimal, so the reference keeps object
columns of ``Decimal(raw string)`` under a 100-digit context and the two sides are compared with
``==``, not after rounding. The pandas operations (shift, reindex, row-wise max/min/sum, masks)
are the same as they would be on floats.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, localcontext
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reserve.adapters.price_sources import load_bundled, load_market_config
from reserve.market.config import MarketConfig
from reserve.market.fix import DailyFix, compute_fix
from reserve.market.prices import PriceRow, SourceSpec
from reserve.market.quotes import quotes_for

ROOT = Path(__file__).resolve().parents[2]
PRICES = ROOT / "data" / "prices"
DAYS = pd.date_range("2020-01-01", "2021-12-31", freq="D")
PCT = Decimal(2)
MIN_SOURCES = 2
BTC_FILES = {
    "yahoo": ("btc_usd.csv", "close_usd"),
    "coingecko": ("btc_usd_source2.csv", "close_usd"),
    "binance": ("btc_usdt_binance.csv", "close_usdt"),
}
USDT_FILES = {
    "yahoo": ("usdt_usd.csv", "close_usd"),
    "coingecko": ("usdt_usd_source2.csv", "close_usd"),
}

# -- the independent reference -------------------------------------------------------------


def _known_at_cutoff(file: str, column: str) -> pd.Series:
    frame = pd.read_csv(PRICES / file, usecols=["date", column], dtype={column: str})
    series = pd.Series(
        frame[column].map(Decimal).to_numpy(), index=pd.to_datetime(frame["date"]), dtype=object
    )
    series.index = series.index + pd.Timedelta(days=1)  # the close of D-1, on day D
    return series.reindex(DAYS)


def _median(frame: pd.DataFrame) -> pd.Series:
    """Row-wise median of up to three Decimal columns, NaN where a row has none."""
    count = frame.notna().sum(axis=1)
    total = frame.sum(axis=1, skipna=True)
    high, low = frame.max(axis=1, skipna=True), frame.min(axis=1, skipna=True)
    out = pd.Series(np.nan, index=frame.index, dtype=object)
    out[count == 1] = total[count == 1]
    out[count == 2] = total[count == 2] / 2
    out[count == 3] = (total - high - low)[count == 3]
    return out


def _reference_fix(frame: pd.DataFrame) -> pd.DataFrame:
    """value, status and used sources per day, the method applied to whole columns."""
    fresh = frame
    centre = _median(fresh)
    distance = fresh.sub(centre, axis=0).map(lambda x: abs(x) if isinstance(x, Decimal) else x)
    far = distance.mul(100).gt(centre * PCT, axis=0) & fresh.notna()
    kept = fresh.where(~far)
    n_fresh, n_kept = fresh.notna().sum(axis=1), kept.notna().sum(axis=1)
    ok = n_kept >= MIN_SOURCES
    value = _median(kept).where(ok, _median(fresh))
    status = np.select(
        [n_fresh == 0, ok, n_fresh < MIN_SOURCES], ["NONE", "OK", "DEGRADED"], "DISPERSED"
    )
    used_mask = kept.notna().where(pd.DataFrame(dict.fromkeys(frame, ok)), fresh.notna())
    used = used_mask.apply(lambda row: tuple(sorted(c for c in row.index if row[c])), axis=1)
    return pd.DataFrame({"value": value, "status": status, "used": used})


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    with localcontext() as ctx:
        ctx.prec = 100
        usdt = _reference_fix(
            pd.DataFrame({n: _known_at_cutoff(*f) for n, f in USDT_FILES.items()})
        )
        btc = pd.DataFrame({n: _known_at_cutoff(*f) for n, f in BTC_FILES.items()})
        btc["binance"] = btc["binance"] * usdt["value"]  # USDT -> USD through the day's USDT fix
        return _reference_fix(btc)


# -- the reserve's fixes -------------------------------------------------------------------


@pytest.fixture(scope="module")
def config() -> MarketConfig:
    return load_market_config(ROOT / "config" / "market.toml")


@pytest.fixture(scope="module")
def series(config: MarketConfig) -> dict[str, dict[str, tuple[SourceSpec, list[PriceRow]]]]:
    loaded: dict[str, dict[str, tuple[SourceSpec, list[PriceRow]]]] = {"BTC": {}, "USDT": {}}
    for spec in config.sources:
        if spec.asset in loaded:
            loaded[spec.asset][spec.name] = (spec, load_bundled(PRICES, spec, date(2026, 11, 21)))
    return loaded


def _btc_fix(day: date, config: MarketConfig, series: dict) -> DailyFix | None:  # type: ignore[type-arg]
    method = config.method
    usdt_quotes = quotes_for("USDT", day, series["USDT"], method, None)
    usdt = compute_fix("USDT", day, usdt_quotes.quotes, method, dropped=usdt_quotes.dropped)
    found = quotes_for("BTC", day, series["BTC"], method, None if usdt is None else usdt.value)
    return compute_fix("BTC", day, found.quotes, method, dropped=found.dropped)


DISAGREEMENT_DAYS = [
    # day, fix, used, dropped: the closes of the day before, Yahoo's bad ones rejected
    (date(2020, 3, 13), "4934.44698750613396", ("binance", "yahoo"), "coingecko"),
    (date(2020, 3, 18), "5239.815193864112141952", ("binance", "yahoo"), "coingecko"),
    (date(2021, 11, 26), "58917.34109153225219723", ("binance", "coingecko"), "yahoo"),
    (date(2021, 12, 15), "48392.58607535085887672", ("binance", "coingecko"), "yahoo"),
]


@pytest.mark.parametrize(("day", "value", "used", "dropped"), DISAGREEMENT_DAYS)
def test_disagreement_days_match_the_reference(
    day: date,
    value: str,
    used: tuple[str, ...],
    dropped: str,
    reference: pd.DataFrame,
    config: MarketConfig,
    series: dict,  # type: ignore[type-arg]
) -> None:
    expected = reference.loc[pd.Timestamp(day)]
    assert (expected["value"], expected["status"], expected["used"]) == (Decimal(value), "OK", used)
    fix = _btc_fix(day, config, series)
    assert fix is not None
    assert (fix.value, fix.status, fix.used) == (Decimal(value), "OK", used)
    assert [source for source, _ in fix.dropped] == [dropped]
    assert fix.method_version == "fix-1"


def test_every_day_of_2020_and_2021_matches_the_reference(
    reference: pd.DataFrame,
    config: MarketConfig,
    series: dict,  # type: ignore[type-arg]
) -> None:
    compared = disagreeing = 0
    for stamp, expected in reference.iterrows():
        fix = _btc_fix(stamp.date(), config, series)
        if expected["status"] == "NONE":
            assert fix is None, stamp
            continue
        assert fix is not None, stamp
        assert (fix.value, str(fix.status), fix.used) == (
            expected["value"],
            expected["status"],
            expected["used"],
        ), stamp
        compared += 1
        disagreeing += len(expected["used"]) < 3
    assert compared == len(DAYS) == 731
    assert disagreeing == len(DISAGREEMENT_DAYS)  # the only days a source was dropped
