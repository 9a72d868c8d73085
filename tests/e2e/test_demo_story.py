"""The demo story's facts, checked against the bundled price files read here on their own."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from reserve.bootstrap import Reserve
from reserve.intake.legal import LegalState
from reserve.intake.purchases import OrderStatus
from reserve.services.demo import CASES, DemoResult, run_story
from reserve.services.holdings import CUSTODIAL, holdings_by_fund
from reserve.services.intake_cases import case_position
from reserve.services.intake_mining import period_report
from reserve.services.intake_purchases import list_purchases
from reserve.services.ledger import balances

DATA = Path(__file__).resolve().parents[2] / "data" / "prices"
BTC = 100_000_000


def close(asset: str, day: date) -> Decimal:
    with (DATA / f"{asset}_usd.csv").open(encoding="utf-8") as handle:
        return next(
            Decimal(r["close_usd"]) for r in csv.DictReader(handle) if r["date"] == str(day)
        )


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Reserve, DemoResult]]:
    from conftest import make_reserve

    folder = tmp_path_factory.mktemp("story")
    reserve = make_reserve(f"sqlite:///{folder / 'reserve.db'}")
    yield reserve, run_story(reserve)
    reserve.close()


def test_the_cases_are_worth_about_usd_350m_at_their_seizure_dates(
    story: tuple[Reserve, DemoResult],
) -> None:
    _reserve, result = story
    expected = {
        c.case.number: (Decimal(c.test_units) + Decimal(c.main_units)) * close("btc", c.seized_on)
        for c in CASES
    }
    for number, value in expected.items():
        assert abs(result.seized_usd[number] - value) <= Decimal("0.01")  # two transfers
    assert Decimal(340_000_000) < sum(expected.values()) < Decimal(360_000_000)


def test_one_case_is_partly_restituted_and_every_case_ends_in_the_reserve(
    story: tuple[Reserve, DemoResult],
) -> None:
    reserve, _ = story
    returned = {}
    for c in CASES:
        (line,) = case_position(reserve, c.case.number)
        assert line.in_custody == 0 == line.custody_balance
        assert line.units.get(LegalState.TRANSFERRED_TO_RESERVE, 0) > 0
        returned[c.case.number] = line.units.get(LegalState.RESTITUTED, 0)
    assert returned == {"2023-017": 0, "2023-088": 900 * BTC, "2024-031": 0}
    assert not [h for h in holdings_by_fund(reserve) if h.book == CUSTODIAL]


def test_mining_follows_the_rule_and_one_month_is_flagged(
    story: tuple[Reserve, DemoResult],
) -> None:
    reserve, _ = story
    lines = period_report(reserve)
    assert [line.period for line in lines][0::12] == ["2024-01", "2025-01"]
    shares = {line.period[:4]: line.rule.sell_share for line in lines}
    assert shares == {"2024": Decimal("0.50"), "2025": Decimal("0.75")}
    assert [line.period for line in lines if line.flag != "OK"] == ["2024-09"]
    for line in lines:
        assert line.required >= line.output * line.rule.sell_share


def test_the_conversions_stay_within_budget_and_fund_from_fx(
    story: tuple[Reserve, DemoResult],
) -> None:
    reserve, _ = story
    views = {v.proposal.order_id: v for v in list_purchases(reserve)}
    assert {k: v.status for k, v in views.items()} == {
        "ALEM-2025-001": OrderStatus.COMPLETED,
        "SFDA-2025-001": OrderStatus.COMPLETED,
    }
    sfda = views["SFDA-2025-001"]
    assert Decimal(299_000_000) < sfda.spent_usd <= Decimal(300_000_000)
    funding = {
        line.account: line.amount
        for line in balances(reserve, account_prefix="Equity:Conversion", asset="USD")
    }
    spent_cents = {k: -int(v.spent_usd * 100) for k, v in views.items()}
    assert abs(funding["Equity:Conversion:FX:SFDA"] - spent_cents["SFDA-2025-001"]) <= 10
    assert abs(funding["Equity:Conversion:FX:ALEM"] - spent_cents["ALEM-2025-001"]) <= 3


def test_the_books_verify(story: tuple[Reserve, DemoResult]) -> None:
    _reserve, result = story
    assert result.chain.entries > 40
    assert result.audit_records > result.chain.entries


def test_the_vault_holds_what_moved_in_and_the_transfer_is_verified_unbroadcast(
    story: tuple[Reserve, DemoResult],
) -> None:
    from reserve.custody.transfers import EventKind, TransferStatus
    from reserve.services.custody_transfers import list_transfers

    reserve, _ = story
    with reserve.reading() as uow:
        vault = uow.custody.vault("vault-astana-1")
        holders = uow.custody.holders()
        deposits = uow.custody.deposits("vault-astana-1")
    assert vault is not None
    assert (vault.spec.threshold, len(vault.spec.keys)) == (3, 5)
    assert len({holders[k.holder].site for k in vault.spec.keys}) == 5
    in_ledger = sum(
        line.amount for line in balances(reserve, account_prefix=vault.account, asset="BTC")
    )
    assert sum(d.amount for d in deposits) == in_ledger  # every coin booked in is on a deposit
    [transfer] = list_transfers(reserve)
    assert transfer.status == TransferStatus.VERIFIED
    assert len(transfer.approvers) == 3
    assert "kh1" not in transfer.approvers  # the initiator never approves
    signed = [e for e in transfer.events if e.kind == EventKind.SIGNED]
    assert len({key for e in signed for key in e.payload["signers"]}) == 3


def test_the_story_is_valued_every_day_and_the_chart_is_written(
    story: tuple[Reserve, DemoResult], tmp_path: Path
) -> None:
    import decimal

    from reserve.services.demo import CASES
    from reserve.services.demo_valuation import LAST_PRICE_DAY, value_story

    reserve, _ = story
    valued = value_story(reserve, tmp_path, today=date(2026, 2, 1))  # after the data's last row
    days = valued.days
    assert days[0].day == min(c.seized_on for c in CASES)
    assert days[-1].day == LAST_PRICE_DAY
    assert len(days) == (LAST_PRICE_DAY - days[0].day).days + 1
    last = days[-1]
    held = sum(
        line.amount
        for line in balances(reserve, account_prefix="Assets:Reserve", asset="BTC", as_of=last.day)
    )
    btc = next(m for m in last.marks if m.holding.asset == "BTC" and m.holding.fund)
    with decimal.localcontext(prec=60):
        fair_btc = sum(
            m.fair_usd for m in last.marks if m.holding.asset == "BTC" and m.holding.fund
        )
        assert fair_btc == Decimal(held) / BTC * btc.fix
    assert last.share == last.total.nav_usd / Decimal("104700000000")
    assert valued.chart.png.read_bytes()[:4] == b"\x89PNG"
