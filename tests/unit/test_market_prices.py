"""Daily price files: read exactly, refused with the file, line, date and reason when they lie;
and the market configuration: the bundled one parses, typos and floats are refused."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from reserve.adapters.price_sources import load_bundled, load_market_config, load_rates
from reserve.core.errors import InvalidInput, Problem
from reserve.market.config import parse_market_config
from reserve.market.prices import PriceRow, SourceSpec, parse_price_csv

ROOT = Path(__file__).resolve().parents[2]
PRICES = ROOT / "data" / "prices"
COPIED = date(2026, 11, 21)  # the day SOURCE.md says the files were copied
TODAY = date(2024, 6, 1)


def _parse(text: str, today: date = TODAY) -> list[PriceRow]:
    return parse_price_csv(text, where="btc_usd.csv", column="close_usd", today=today)


def _problems(text: str) -> tuple[Problem, ...]:
    with pytest.raises(InvalidInput) as caught:
        _parse(text)
    return caught.value.problems


def test_values_are_taken_exactly_as_written() -> None:
    rows = _parse(
        "date,close_usd,volume_usd\n"
        "2024-01-01,97437.5546875,1\n"
        "2024-01-02,0.1234567890123456789012345678901234567,2\n"
    )
    assert rows == [
        PriceRow(date(2024, 1, 1), Decimal("97437.5546875")),
        PriceRow(date(2024, 1, 2), Decimal("0.1234567890123456789012345678901234567")),
    ]
    assert str(rows[1].value) == "0.1234567890123456789012345678901234567"  # not a float's digits


@pytest.mark.parametrize(
    ("body", "line", "field", "words"),
    [
        ("2024-01-01,1\n2024-01-01,2\n", 3, "date", ["2024-01-01", "repeated", "line 2"]),
        ("2024-01-02,1\n2024-01-01,2\n", 3, "date", ["2024-01-01", "2024-01-02", "ascend"]),
        ("2024-01-01,1\n2024-01-02,abc\n", 3, "close_usd", ["2024-01-02", "'abc'", "not a number"]),
        ("2024-01-01,1\n2024-01-02,\n", 3, "close_usd", ["2024-01-02", "empty", "not a number"]),
        ("2024-01-01,1_000\n", 2, "close_usd", ["2024-01-01", "not a number"]),
        ("2024-01-01,NaN\n", 2, "close_usd", ["2024-01-01", "not a number"]),
        ("2024-01-01,0\n", 2, "close_usd", ["2024-01-01", "zero"]),
        ("2024-01-01,0.000\n", 2, "close_usd", ["2024-01-01", "zero"]),
        ("2024-01-01,-3.5\n", 2, "close_usd", ["2024-01-01", "-3.5", "negative"]),
        ("2024-06-02,1\n", 2, "date", ["2024-06-02", "future", "2024-06-01"]),
        ("01/02/2024,1\n", 2, "date", ["01/02/2024", "YYYY-MM-DD"]),
        ("2024-02-30,1\n", 2, "date", ["2024-02-30", "not a calendar date"]),
        ("2024-01-01,1,extra\n", 2, "row", ["number of fields"]),
    ],
)
def test_a_bad_row_is_refused_naming_file_line_date_and_reason(
    body: str, line: int, field: str, words: list[str]
) -> None:
    (problem,) = _problems("date,close_usd\n" + body)
    assert problem.where == f"btc_usd.csv line {line}"
    assert problem.field == field
    for word in words:
        assert word in problem.reason
    assert f"btc_usd.csv line {line}: {field}:" in str(problem)


def test_every_bad_line_is_reported_at_once() -> None:
    problems = _problems(
        "date,close_usd\n2024-01-01,1\n2024-01-01,2\n2024-01-03,-1\n2030-01-01,5\n"
    )
    assert [p.where for p in problems] == [
        "btc_usd.csv line 3",
        "btc_usd.csv line 4",
        "btc_usd.csv line 5",
    ]


def test_a_missing_column_is_named() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_price_csv(
            "date,close\n2024-01-01,1\n", where="x.csv", column="close_usd", today=TODAY
        )
    (problem,) = caught.value.problems
    assert (problem.where, problem.field) == ("x.csv line 1", "close_usd")
    assert "date, close" in problem.reason


def test_a_row_of_today_is_accepted_and_tomorrow_is_not() -> None:
    assert _parse("date,close_usd\n2024-06-01,1\n") == [PriceRow(TODAY, Decimal(1))]


# rows per file, and first and last day, as SOURCE.md's table gives them
BUNDLED = [
    ("btc_usd.csv", "close_usd", 3810, "2014-09-17", "2025-02-20"),
    ("eth_usd.csv", "close_usd", 2661, "2017-11-09", "2025-02-20"),
    ("bnb_usd.csv", "close_usd", 2661, "2017-11-09", "2025-02-20"),
    ("sol_usd.csv", "close_usd", 1778, "2020-04-10", "2025-02-20"),
    ("trx_usd.csv", "close_usd", 2661, "2017-11-09", "2025-02-20"),
    ("usdt_usd.csv", "close_usd", 2652, "2017-11-09", "2025-02-11"),
    ("usdc_usd.csv", "close_usd", 2319, "2018-10-08", "2025-02-11"),
    ("btc_usdt_binance.csv", "close_usdt", 2750, "2017-08-17", "2025-02-25"),
    ("btc_usd_source2.csv", "close_usd", 5677, "2010-07-17", "2026-01-30"),
    ("eth_usd_source2.csv", "close_usd", 3423, "2015-08-06", "2024-12-19"),
    ("sol_usd_source2.csv", "close_usd", 1715, "2020-04-10", "2024-12-19"),
    ("bnb_usd_source2.csv", "close_usd", 1466, "2017-09-15", "2021-09-21"),
    ("usdt_usd_source2.csv", "close_usd", 2379, "2015-02-24", "2021-09-21"),
    ("usdc_usd_source2.csv", "close_usd", 1084, "2018-10-04", "2021-09-21"),
    ("usd_kzt.csv", "kzt_per_usd", 2327, "2015-03-30", "2023-04-30"),
    ("usd_kzt_source2.csv", "kzt_per_usd", 258, "2022-05-04", "2023-05-04"),
]


@pytest.mark.parametrize(("file", "column", "count", "first", "last"), BUNDLED)
def test_every_bundled_file_loads_with_the_documented_rows(
    file: str, column: str, count: int, first: str, last: str
) -> None:
    quote = "USDT" if column.endswith("usdt") else "KZT" if "kzt" in file else "USD"
    spec = SourceSpec(name="bundled", asset="X" * 3, quote=quote, file=file, column=column)
    rows = load_bundled(PRICES, spec, COPIED)
    assert len(rows) == count
    assert (rows[0].day.isoformat(), rows[-1].day.isoformat()) == (first, last)


def test_a_bundled_file_is_refused_when_today_is_before_its_last_row() -> None:
    spec = SourceSpec(
        name="yahoo", asset="BTC", quote="USD", file="btc_usd.csv", column="close_usd"
    )
    with pytest.raises(InvalidInput) as caught:
        load_bundled(PRICES, spec, date(2025, 2, 18))
    assert [p.where for p in caught.value.problems] == [
        "btc_usd.csv line 3810",
        "btc_usd.csv line 3811",
    ]
    assert "2025-02-19 is in the future" in caught.value.problems[0].reason


def test_an_unreadable_file_is_named() -> None:
    spec = SourceSpec(name="yahoo", asset="BTC", quote="USD", file="nope.csv", column="close_usd")
    with pytest.raises(InvalidInput, match=r"nope\.csv: file: cannot read it"):
        load_bundled(PRICES, spec, COPIED)


def test_the_bundled_market_config_parses() -> None:
    config = load_market_config(ROOT / "config" / "market.toml")
    method = config.method
    assert (method.version, method.cutoff.isoformat(), method.timezone) == (
        "fix-1",
        "16:00:00",
        "Asia/Almaty",
    )
    assert (method.staleness_hours, method.outlier_pct, method.min_sources) == (24, Decimal(2), 2)
    assert [s.name for s in config.sources_of("BTC")] == ["yahoo", "coingecko", "binance"]
    assert config.sources_of("BTC")[2].quote == "USDT"
    assert [s.name for s in config.sources_of("TRX")] == ["yahoo"]
    assert config.assets()[0] == "USDT"
    assert sorted(config.assets()) == ["BNB", "BTC", "ETH", "SOL", "TRX", "USDC", "USDT"]
    assert (config.rates.file, config.rates.column, config.rates.max_age_days) == (
        "usd_kzt.csv",
        "kzt_per_usd",
        3,
    )
    assert len(load_rates(PRICES, config.rates, COPIED)) == 2327


CONFIG = """
[method]
version = "fix-1"
cutoff = "16:00"
timezone = "Asia/Almaty"
staleness_hours = 24
outlier_pct = {pct}
min_sources = 2
{extra}
[[sources]]
name = "yahoo"
asset = "USDT"
quote = "USD"
file = "usdt_usd.csv"
column = "close_usd"

[[sources]]
name = "binance"
asset = "BTC"
quote = "{quote}"
file = "{file}"
column = "close_usdt"

[rates]
file = "usd_kzt.csv"
column = "kzt_per_usd"
max_age_days = 3
"""


def _config_problems(**changes: str) -> list[str]:
    values = {"pct": '"2"', "extra": "", "quote": "USDT", "file": "btc_usdt_binance.csv"}
    values.update(changes)
    with pytest.raises(InvalidInput) as caught:
        parse_market_config(CONFIG.format(**values), "market.toml")
    return [str(p) for p in caught.value.problems]


def test_a_config_is_refused_with_its_problems_named() -> None:
    assert parse_market_config(
        CONFIG.format(pct='"2.5"', extra="", quote="USDT", file="b.csv"), "market.toml"
    ).method.outlier_pct == Decimal("2.5")
    (float_pct,) = _config_problems(pct="2.0")
    assert float_pct.startswith("market.toml: method.outlier_pct:")
    assert "not a float" in float_pct
    (unknown,) = _config_problems(extra="median = true")
    assert unknown.startswith("market.toml: method.median:")
    (kzt,) = _config_problems(quote="KZT")
    assert "quoted in KZT" in kzt
    (escape,) = _config_problems(file="../../etc/passwd")
    assert escape.startswith("market.toml: sources.1.file:")
    (bad_toml,) = _config_problems(pct="2.0.0")
    assert "not valid TOML" in bad_toml


def test_a_usdt_quoted_source_needs_a_usdt_source_in_usd() -> None:
    text = CONFIG.format(pct='"2"', extra="", quote="USDT", file="b.csv").replace(
        'asset = "USDT"', 'asset = "ETH"'
    )
    with pytest.raises(InvalidInput, match="no USDT source quoted in USD"):
        parse_market_config(text, "market.toml")
