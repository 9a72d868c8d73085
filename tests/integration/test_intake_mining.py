"""State mining on real databases: output split into lots by the rule in force, sales through
licensed venues, the period report, and every refusal leaving the books as they were."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest

from reserve.bootstrap import Reserve
from reserve.core.errors import Conflict, InvalidInput
from reserve.governance.people import OrgUnit, Role, User
from reserve.intake.mining import SHORTFALL, MiningOperation, MiningOutput, MiningSale
from reserve.services.governance import add_unit, add_user, audit_log, verify_audit
from reserve.services.intake_mining import (
    list_operations,
    list_outputs,
    period_report,
    record_output,
    record_sale,
    register_operation,
    rules_in_force,
)
from reserve.services.integrity import verify_ledger
from reserve.services.ledger import balances, open_lots

BTC = 100_000_000
CENT = Decimal("0.01")
OP = MiningOperation("EKB-1", "Ekibastuz", "State Energy Holding", Decimal(25000))
FOR_SALE = "Assets:Reserve:SFDA:BTC:Mining:EKB-1:ForSale"
RETAINED = "Assets:Reserve:SFDA:BTC:Mining:EKB-1:Retained"
INCOME = "Income:Mining:SFDA:EKB-1"
CASH = "Assets:Reserve:SFDA:Cash:USD"
TRADING = "Equity:Trading:SFDA"
FEES = "Expenses:Fees:Trading:SFDA"
POLICY = Path(__file__).resolve().parents[2] / "config" / "intake.toml"


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def payout(label: str) -> str:
    """A made-up pool payout txid, one per label."""
    return hashlib.sha256(label.encode()).hexdigest()


def mined(period: str = "2024-06", amount: int = 325_000_000, **kw: Any) -> MiningOutput:
    fields: dict[str, Any] = {
        "operation": OP.code,
        "period": period,
        "amount": amount,
        "payout_txids": (payout(period), payout(f"{period}/2")),
        "energy_mwh": Decimal(1200),
        "cost_kzt": Decimal(30_000_000),
        "kzt_per_usd": Decimal("470.25"),
    }
    return MiningOutput(**{**fields, **kw})


def sale(ref: str = "T-1", quantity: int = BTC, **kw: Any) -> MiningSale:
    fields: dict[str, Any] = {
        "operation": OP.code,
        "period": "2024-06",
        "venue": "AIX",
        "ref": ref,
        "quantity": quantity,
        "price_usd": Decimal("64123.45"),
        "fee_usd": Decimal("32.06"),
        "sold_on": date(2024, 7, 3),
    }
    return MiningSale(**{**fields, **kw})


@pytest.fixture
def books(reserve: Reserve) -> Reserve:
    """Staff and one registered operation."""
    add_unit(reserve, OrgUnit("HQ", "Head office"), actor="setup")
    add_user(reserve, User("root", "Root", "HQ", frozenset({Role.ADMINISTRATOR})), actor="setup")
    for name, role in (("intake1", Role.INTAKE_OFFICER), ("legal1", Role.LEGAL_OFFICER)):
        add_user(reserve, User(name, name, "HQ", frozenset({role})), actor="root")
    assert register_operation(reserve, OP, actor="intake1")
    return reserve


@pytest.fixture
def june(books: Reserve) -> Reserve:
    """June 2024's 3.25 BTC recorded: 50% for sale."""
    record_output(books, mined(), actor="intake1")
    return books


def state(reserve: Reserve) -> tuple[Any, ...]:
    """Everything a refused use case must leave as it was."""
    with reserve.reading() as uow:
        return (
            uow.ledger.head(),
            sorted(uow.ledger.current_balances().items()),
            sorted(uow.ledger.accounts()),
            uow.ledger.all_holdings(),
            uow.governance.audit_head(),
            uow.mining.operations(),
            uow.mining.outputs(),
            uow.mining.sales(),
        )


def lots(reserve: Reserve) -> dict[str, Any]:
    return {line.lot.lot_id: line for line in open_lots(reserve, account_prefix="Assets")}


def balance(reserve: Reserve, account: str, asset: str) -> int:
    found = [b.amount for b in balances(reserve, account_prefix=account, asset=asset)]
    return sum(b for b in found)


def test_output_is_booked_as_two_lots_acquired_at_the_periods_end(june: Reserve) -> None:
    found = lots(june)
    sell, keep = found["mining:EKB-1:2024-06:sell"], found["mining:EKB-1:2024-06:retain"]
    assert (sell.account, sell.units, keep.account, keep.units) == (
        FOR_SALE, 162_500_000, RETAINED, 162_500_000,
    )  # fmt: skip
    for line in (sell, keep):
        assert (line.lot.source_kind, line.lot.source_ref) == ("mining", "EKB-1/2024-06")
        assert line.lot.acquired_on == date(2024, 6, 30)
    total_usd = cents(Decimal(30_000_000) / Decimal("470.25"))  # 63,795.85
    assert sell.lot.cost_usd == cents(total_usd / 2)
    assert sell.lot.cost_usd + keep.lot.cost_usd == total_usd
    assert sell.lot.cost_kzt + keep.lot.cost_kzt == Decimal(30_000_000)
    assert balance(june, INCOME, "BTC") == -325_000_000
    with june.reading() as uow:
        entry = uow.ledger.entry(uow.ledger.head()[0])
    assert entry is not None
    assert (entry.kind, entry.date, entry.idempotency_key) == (
        "mining", date(2026, 1, 15), "mining:EKB-1:2024-06",
    )  # fmt: skip
    assert entry.refs["rule_from"] == "2024-01-01"
    assert entry.refs["payout_txids"] == f"{payout('2024-06')};{payout('2024-06/2')}"
    (stored,) = list_outputs(june)
    assert stored.policy_sha256 == hashlib.sha256(POLICY.read_bytes()).hexdigest()
    assert stored.policy_sha256 == rules_in_force(june).sha256
    assert (stored.cost_basis, stored.cost_usd, stored.entry_seq) == (
        "production-cost", total_usd, entry.seq,
    )  # fmt: skip
    assert {"mining.register", "mining.output", "intake.mining", "accounts.open"} <= {
        r.action for r in audit_log(june)
    }
    verify_ledger(june)
    verify_audit(june)


def test_2024_splits_half_and_2025_three_quarters(june: Reserve) -> None:
    done = record_output(june, mined("2025-03", 333_333_333), actor="intake1")
    assert (done.split.to_sell, done.split.to_retain) == (250_000_000, 83_333_333)  # rounded up
    assert done.split.rule.sell_share == Decimal("0.75")
    assert lots(june)["mining:EKB-1:2025-03:sell"].lot.acquired_on == date(2025, 3, 31)
    assert [(r.output.period, r.split.to_sell) for r in list_outputs(june)] == [
        ("2024-06", 162_500_000),
        ("2025-03", 250_000_000),
    ]


def test_a_replay_changes_nothing_and_a_changed_replay_is_refused(june: Reserve) -> None:
    before = state(june)
    again = record_output(june, mined(), actor="intake1")
    without_rate = record_output(june, mined(kzt_per_usd=None), actor="intake1")
    assert (again.created, without_rate.created) == (False, False)
    assert again.entry_seq == list_outputs(june)[0].entry_seq
    assert state(june) == before
    with pytest.raises(Conflict, match="output EKB-1 2024-06: period: already recorded with"):
        record_output(june, mined(amount=325_000_001), actor="intake1")
    assert state(june) == before


def test_a_sale_books_proceeds_fee_and_realised_result(june: Reserve) -> None:
    done = record_sale(june, sale(), actor="intake1")
    gross = Decimal("64123.45")  # 1 BTC at 64,123.45
    lot_cost = lots(june)["mining:EKB-1:2024-06:sell"].lot.cost_usd  # of 1.625 BTC
    cost = cents(lot_cost * BTC / 162_500_000)
    assert (done.gross_usd, done.proceeds_usd, done.cost_usd) == (
        gross, gross - Decimal("32.06"), cost,
    )  # fmt: skip
    assert done.realised_usd == gross - Decimal("32.06") - cost
    assert balance(june, FOR_SALE, "BTC") == 62_500_000
    assert balance(june, CASH, "USD") == 6_409_139
    assert balance(june, FEES, "USD") == 3_206
    assert balance(june, TRADING, "USD") == -6_412_345
    assert balance(june, TRADING, "BTC") == BTC
    before = state(june)
    assert not record_sale(june, sale(), actor="intake1").created
    assert state(june) == before
    with pytest.raises(Conflict, match="sale AIX T-1: ref: already recorded with other details"):
        record_sale(june, sale(quantity=BTC // 2), actor="intake1")
    assert state(june) == before
    assert "mining.sale" in {r.action for r in audit_log(june)}
    verify_ledger(june)
    verify_audit(june)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (
            {"venue": "BINANCE"},
            "sale BINANCE T-9: venue: 'BINANCE' is not a licensed venue (AIX, ATAIX, INTEBIX)",
        ),
        (
            {"quantity": 162_500_001},
            "quantity: only 1.62500000 BTC of the period's for-sale units are left",
        ),
        ({"operation": "NOPE"}, "operation: 'NOPE' is not a registered mining operation"),
        ({"period": "2025-04"}, "period: EKB-1 has no output recorded for 2025-04"),
        ({"sold_on": date(2026, 1, 16)}, "sold_on: 2026-01-16 is in the future"),
        ({"fee_usd": Decimal("-1")}, "fee_usd: must not be negative"),
    ],
)
def test_a_bad_sale_is_refused(june: Reserve, bad: dict[str, Any], message: str) -> None:
    before = state(june)
    with pytest.raises(InvalidInput) as refused:
        record_sale(june, sale("T-9", **bad), actor="intake1")
    assert message in str(refused.value)
    assert state(june) == before


def test_selling_more_than_is_left_after_earlier_sales_is_refused(june: Reserve) -> None:
    record_sale(june, sale(), actor="intake1")
    before = state(june)
    with pytest.raises(
        InvalidInput, match=r"only 0\.62500000 BTC of the period's for-sale units are left"
    ):
        record_sale(june, sale("T-2", 70_000_000), actor="intake1")
    assert state(june) == before
    record_sale(june, sale("T-3", 62_500_000), actor="intake1")
    assert balance(june, FOR_SALE, "BTC") == 0


@pytest.mark.parametrize(
    ("report", "message"),
    [
        (mined(operation="NOPE"), "output NOPE 2024-06: operation: 'NOPE' is not a registered"),
        (
            mined("2026-01"),
            "output EKB-1 2026-01: period: the period has not ended: 2026-01 runs to 2026-01-31",
        ),
        (
            mined("2024-07", kzt_per_usd=None),
            "output EKB-1 2024-07: kzt_per_usd: the bundled USD/KZT series has no rate within 3 "
            "day(s) before 2024-07-31 (the latest is of 2023-04-30); give the rate of the day",
        ),
        (
            mined("2023-12"),
            "output EKB-1 2023-12: period: no sale rule is in force on 2023-12-01, the first day "
            "of 2023-12",
        ),
        (mined("2024-07", amount=0), "output EKB-1 2024-07: amount: must be positive"),
        (
            mined("2024-07", payout_txids=(payout("2024-06/2"),)),
            f"payout_txids: {payout('2024-06/2')} is already reported for 2024-06",
        ),
    ],
)
def test_a_bad_output_is_refused(june: Reserve, report: MiningOutput, message: str) -> None:
    before = state(june)
    with pytest.raises(InvalidInput) as refused:
        record_output(june, report, actor="intake1")
    assert message in str(refused.value)
    assert state(june) == before


def test_only_intake_officers_and_administrators_record_mining(june: Reserve) -> None:
    before = state(june)
    with pytest.raises(InvalidInput, match="legal1 cannot act: recording mining output needs"):
        record_output(june, mined("2024-07"), actor="legal1")
    with pytest.raises(InvalidInput, match="legal1 cannot act: recording a mining sale needs"):
        record_sale(june, sale(), actor="legal1")
    assert state(june) == before
    assert record_output(june, mined("2024-07"), actor="root").created


def test_registering_an_operation_is_idempotent_and_checked(books: Reserve) -> None:
    before = state(books)
    assert not register_operation(books, OP, actor="intake1")
    assert state(books) == before
    with pytest.raises(Conflict, match="operation EKB-1: code: already registered with other"):
        register_operation(books, replace(OP, site="Pavlodar"), actor="intake1")
    bad = MiningOperation("EKB 1", "", "x", Decimal(0), fund="NOPE", asset="USD")
    with pytest.raises(InvalidInput) as refused:
        register_operation(books, bad, actor="intake1")
    assert [p.field for p in refused.value.problems] == [
        "code", "site", "tariff_kzt_per_mwh", "fund", "asset",
    ]  # fmt: skip
    assert state(books) == before
    assert list_operations(books) == [OP]


def policy_file(tmp_path: Path, old: str, new: str) -> Path:
    text = POLICY.read_text()
    assert old in text
    path = tmp_path / "intake.toml"
    path.write_text(text.replace(old, new))
    return path


def with_policy(reserve: Reserve, path: Path) -> Reserve:
    """The same books read under another policy file."""
    return replace(reserve, settings=reserve.settings.model_copy(update={"intake_policy": path}))


def test_fair_value_policy_needs_the_fair_value_and_costs_the_lots_with_it(
    books: Reserve, tmp_path: Path
) -> None:
    path = policy_file(tmp_path, 'cost_basis = "production-cost"', 'cost_basis = "fair-value"')
    fair = with_policy(books, path)
    before = state(fair)
    with pytest.raises(InvalidInput, match="fair_value_usd: the policy costs mining output at"):
        record_output(fair, mined(), actor="intake1")
    assert state(fair) == before
    record_output(fair, mined(fair_value_usd=Decimal("201234.57")), actor="intake1")
    found = lots(fair)
    sell, keep = found["mining:EKB-1:2024-06:sell"].lot, found["mining:EKB-1:2024-06:retain"].lot
    assert sell.cost_usd + keep.cost_usd == Decimal("201234.57")
    assert sell.cost_kzt + keep.cost_kzt == cents(Decimal("201234.57") * Decimal("470.25"))
    (stored,) = list_outputs(fair)
    assert (stored.cost_basis, stored.policy_sha256) == (
        "fair-value", hashlib.sha256(path.read_bytes()).hexdigest(),
    )  # fmt: skip


def test_a_venue_outside_its_licence_dates_is_refused(june: Reserve, tmp_path: Path) -> None:
    path = policy_file(
        tmp_path,
        "licensed_from = 2021-06-01",
        "licensed_from = 2021-06-01\nlicensed_until = 2024-06-30",
    )
    lapsed = with_policy(june, path)
    before = state(lapsed)
    with pytest.raises(InvalidInput, match="ATAIX is licensed from 2021-06-01 to 2024-06-30, not"):
        record_sale(lapsed, sale(venue="ATAIX"), actor="intake1")
    assert state(lapsed) == before


def test_the_report_flags_a_period_that_sold_less_than_the_rule(june: Reserve) -> None:
    record_output(june, mined("2025-03", 400_000_000), actor="intake1")
    record_sale(june, sale(), actor="intake1")  # 1 of 1.625 BTC required
    record_sale(
        june, sale("T-2", 300_000_000, period="2025-03", sold_on=date(2025, 4, 2)), actor="root"
    )
    first, second = period_report(june)
    assert (first.period, first.required, first.sold, first.shortfall, first.flag) == (
        "2024-06", 162_500_000, BTC, 62_500_000, SHORTFALL,
    )  # fmt: skip
    assert (second.period, second.required, second.sold, second.flag) == (
        "2025-03", 300_000_000, 300_000_000, "OK",
    )  # fmt: skip
    assert first.rule.effective_from == date(2024, 1, 1)
    assert second.rule.effective_from == date(2025, 1, 1)
    assert first.proceeds_usd == Decimal("64123.45") - Decimal("32.06")
    assert first.realised_usd == first.proceeds_usd - first.cost_sold_usd
    assert [line.period for line in period_report(june, start="2025-01")] == ["2025-03"]
    assert period_report(june, operation="EKB-1", end="2024-12") == [first]
    with pytest.raises(InvalidInput, match="report: from: '2025' is not a month"):
        period_report(june, start="2025")
    verify_ledger(june)
    verify_audit(june)
