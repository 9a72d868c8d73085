"""`reserve market`, `reserve value` and `reserve alerts` as a user runs them: loading, fixes,
a valuation, the NAV chart, the roll-forward; bad input refused with one line, nothing written."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pytest

from reserve.bootstrap import bootstrap
from reserve.config import Settings
from reserve.ledger.accounts import Account
from reserve.services.ledger import open_accounts, post_entries

from cli_session import CliSession
from support import ACCOUNTS, VAULT, intake, lot

DATA = Path(__file__).resolve().parents[2] / "data"
BTC = 100_000_000


class Desk(CliSession):
    reader = "system"
    watched = (("alerts",),)

    def state(self) -> tuple[object, ...]:
        with bootstrap(Settings(database_url=self.db)).reading() as uow:
            prices = uow.market.loaded_sources()
        return (*super().state(), prices)


@pytest.fixture
def desk(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> Desk:
    reserve = bootstrap(Settings(database_url=sqlite_url))
    open_accounts(reserve, [Account(n, f, date(2022, 1, 1)) for n, f in ACCOUNTS])
    opening = lot("purchase", "p1", "60000")
    post_entries(
        reserve,
        [intake("a", VAULT, 2 * BTC, day=date(2022, 11, 1), opening=opening)],
        actor="system",
    )
    reserve.close()
    return Desk(sqlite_url, capsys)


def test_load_fix_value_chart_and_roll_forward(desk: Desk, tmp_path: Path) -> None:
    loaded = desk.json("market", "load")
    assert {(r["source"], r["asset"]) for r in loaded} >= {("yahoo", "BTC"), ("usd-kzt", "USDKZT")}
    assert sum(r["added"] for r in desk.json("market", "load")) == 0  # a reload adds nothing
    [btc] = [f for f in desk.json("market", "fix", "--date", "2021-11-26") if f["asset"] == "BTC"]
    assert (btc["status"], btc["used"]) == ("OK", ["binance", "coingecko"])
    assert btc["dropped"][0][0] == "yahoo"  # its bad close of 2021-11-25 is 2.76% off
    [day] = desk.json("value", "--date", "2022-11-09")
    assert day["funds"][0]["fund"] == "SFDA"
    assert day["nav_kzt"] is not None
    desk.ok("system", "value", "--from", "2022-11-01", "--to", "2022-11-30")
    out = desk.ok(
        "system",
        "value",
        "chart",
        "--from",
        "2022-11-01",
        "--to",
        "2022-11-30",
        "--out-dir",
        str(tmp_path),
    )
    assert "30 days" in out
    assert (tmp_path / "nav.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "plotly" in (tmp_path / "nav.html").read_text(encoding="utf-8")[:200_000]
    rolled = desk.json(
        "value", "rollforward", "--asset", "BTC", "--from", "2022-11-02", "--to", "2022-11-30"
    )
    assert rolled["difference"] == "0"
    moves = desk.json("alerts", "--kind", "usd-kzt-move")
    assert "2015-08-21" in {a["day"] for a in moves}  # the tenge float, +35.5%


def test_a_fix_for_a_day_with_no_data_is_refused(desk: Desk) -> None:
    desk.ok("system", "market", "load")
    desk.refused(
        "fix 2009-01-03: date: no source has data for this day",
        "system",
        "market",
        "fix",
        "--date",
        "2009-01-03",
    )


def test_a_bad_price_file_is_refused_naming_file_line_and_reason(
    desk: Desk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    shutil.copytree(DATA, data)
    path = data / "prices" / "sol_usd.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    day = lines[5].split(",")[0]
    lines[5] = f"{day},0,1,1,1,1"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.setenv("RESERVE_DATA_DIR", str(data))
    desk.refused(
        f"sol_usd.csv line 6: close_usd: on {day}: the price is zero", "system", "market", "load"
    )
    lines[5] = lines[4]  # the day before, twice
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    desk.refused("sol_usd.csv line 6: date:", "system", "market", "load")


def test_options_are_checked(desk: Desk) -> None:
    desk.refused("give --date, or --from and --to", "system", "value", "--from", "2022-11-01")
    desk.refused(
        "--to: 2022-10-01 is before 2022-11-01",
        "system",
        "market",
        "fix",
        "--from",
        "2022-11-01",
        "--to",
        "2022-10-01",
    )


def test_json_lines_carry_the_fix_status(desk: Desk) -> None:
    desk.ok("system", "market", "load")
    [day] = desk.json("value", "--date", "2021-06-01")
    assert day["nav_kzt"] is None  # inside the USD/KZT gap: never forward filled
    assert json.dumps(day)  # plain JSON, Decimals as text
