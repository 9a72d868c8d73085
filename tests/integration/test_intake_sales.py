"""Sales of seized units on real databases: an interlocutory sale keeps the proceeds with the
case, under the same hold; a sale after forfeiture pays them into a fund's cash; refusals write
nothing."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from test_intake_cases import BTC, CASE, CUSTODY, approved, order, state, units, with_case

from reserve.bootstrap import Reserve, bootstrap
from reserve.config import Settings
from reserve.core.errors import InvalidInput
from reserve.intake.legal import LegalState
from reserve.ledger.accounts import Account
from reserve.ledger.model import Entry, EntryDraft, PostingDraft
from reserve.services.governance import audit_log, verify_audit
from reserve.services.holdings import CONSOLIDATED, CUSTODIAL, holdings_by_fund
from reserve.services.intake_cases import case_position, show_case
from reserve.services.intake_orders import execute_order
from reserve.services.integrity import verify_ledger
from reserve.services.ledger import balances, list_accounts, open_accounts, post_entries

from conftest import FIXED_NOW

S = LegalState
CASH = "Assets:Custody:Seized:2024-001:USD"
SFDA_CASH = "Assets:Reserve:SFDA:Cash:USD"
AIX: dict[str, Any] = {
    "venue": "AIX",
    "sale_ref": "AIX-T-88412",
    "price_usd": Decimal("64250.50"),
    "fee_usd": Decimal("120.00"),
}


@pytest.fixture
def books(reserve: Reserve) -> Reserve:
    return with_case(reserve)


def entry_of(reserve: Reserve, seq: int | None) -> Entry:
    with reserve.reading() as uow:
        entry = uow.ledger.entry(seq or 0)
    assert entry is not None
    return entry


def sums(entry: Entry) -> dict[str, int]:
    total: dict[str, int] = defaultdict(int)
    for p in entry.postings:
        total[p.asset] += p.amount
    return dict(total)


def held(reserve: Reserve) -> dict[str, int]:
    return {b.account: b.amount for b in balances(reserve) if b.account.startswith("Assets")}


def test_an_interlocutory_sale_keeps_the_proceeds_with_the_case(books: Reserve) -> None:
    sale = approved(books, order(S.SEIZED, S.INTERLOCUTORY_SOLD, 2 * BTC))
    done = execute_order(books, sale, actor="legal7", **AIX)
    # 2 x 64,250.50 = 128,501.00 gross; less the 120.00 fee
    assert held(books) == {CUSTODY: 3 * BTC, CASH: 12_838_100}
    assert units(books) == {S.SEIZED: 3 * BTC, S.INTERLOCUTORY_SOLD: 2 * BTC}
    (line,) = case_position(books, CASE.number)
    assert (line.sold, line.in_custody, line.custody_balance) == (2 * BTC, 3 * BTC, 3 * BTC)
    assert show_case(books, CASE.number).proceeds_usd == 12_838_100
    # custodial, in no fund: the reserve holds none of it
    assert [(h.book, h.asset, h.amount) for h in holdings_by_fund(books)] == [
        (CUSTODIAL, "BTC", 3 * BTC),
        (CUSTODIAL, "USD", 12_838_100),
    ]
    entry = entry_of(books, done.entry_seq)
    assert entry.kind == "interlocutory-sale"
    assert entry.idempotency_key == f"legal-order:{sale}"
    assert sums(entry) == {"BTC": 0, "USD": 0}
    legs = {(p.account, p.asset): p.amount for p in entry.postings}
    assert legs == {
        (CUSTODY, "BTC"): -2 * BTC,
        ("Equity:Custody:2024-001", "BTC"): 2 * BTC,
        (CASH, "USD"): 12_838_100,
        ("Expenses:Fees:Trading:Custody", "USD"): 12_000,
        ("Equity:Custody:2024-001", "USD"): -12_850_100,
    }
    assert {
        k: entry.refs[k] for k in ("venue", "sale_ref", "price_usd", "fee_usd", "gross_usd")
    } == {
        "venue": "AIX",
        "sale_ref": "AIX-T-88412",
        "price_usd": "64250.5",
        "fee_usd": "120.00",
        "gross_usd": "128501.00",
    }
    assert {a.name: a.fund for a in list_accounts(books)}[CASH] is None
    executed = [r for r in audit_log(books) if r.action == "orders.execute"]
    assert executed[-1].details["sale_ref"] == "AIX-T-88412"
    verify_ledger(books)
    verify_audit(books)


def test_the_proceeds_in_custody_cannot_leave_without_an_order(books: Reserve) -> None:
    execute_order(
        books, approved(books, order(S.SEIZED, S.INTERLOCUTORY_SOLD, BTC)), actor="legal7", **AIX
    )
    open_accounts(books, [Account(SFDA_CASH, "SFDA", date(2024, 1, 1))], actor="root")
    before = state(books)
    take = EntryDraft(
        "take:1", date(2026, 1, 15), "transfer", "proceeds to the fund without an order",
        (PostingDraft(CASH, "USD", -10_000), PostingDraft(SFDA_CASH, "USD", 10_000)),
    )  # fmt: skip
    with pytest.raises(InvalidInput, match=r"moves 100\.00 USD of case 2024-001 out of custody"):
        post_entries(books, [take], actor="root")
    assert state(books) == before


def test_a_sale_after_forfeiture_pays_the_proceeds_into_the_fund(books: Reserve) -> None:
    execute_order(books, approved(books, order(S.SEIZED, S.FORFEITED, 5 * BTC)), actor="legal7")
    sale = approved(books, order(S.FORFEITED, S.SOLD, 3 * BTC, reference="12/2024-S"))
    done = execute_order(
        books, sale, actor="legal8", fund="SFDA", venue="ATAIX", sale_ref="AT-1",
        price_usd=Decimal("60000"), fee_usd=Decimal("90.25"),
    )  # fmt: skip
    assert units(books) == {S.FORFEITED: 2 * BTC, S.SOLD: 3 * BTC}
    assert held(books) == {CUSTODY: 2 * BTC, SFDA_CASH: 17_990_975}
    assert [(h.book, h.asset, h.amount) for h in holdings_by_fund(books)] == [
        ("SFDA", "USD", 17_990_975),
        (CONSOLIDATED, "USD", 17_990_975),
        (CUSTODIAL, "BTC", 2 * BTC),
    ]  # no BTC in any fund: sold units never reach one
    entry = entry_of(books, done.entry_seq)
    assert (entry.kind, entry.refs["fund"], entry.refs["net_usd"]) == ("sale", "SFDA", "179909.75")
    assert sums(entry) == {"BTC": 0, "USD": 0}
    funds = {a.name: a.fund for a in list_accounts(books)}
    for name in (SFDA_CASH, "Expenses:Fees:Trading:SFDA", "Equity:Forfeiture:SFDA"):
        assert funds[name] == "SFDA"
    assert {b.account: b.amount for b in balances(books, fund="SFDA")} == {
        SFDA_CASH: 17_990_975,
        "Expenses:Fees:Trading:SFDA": 9_025,
        "Equity:Forfeiture:SFDA": -18_000_000,
    }  # the fund's book balances on its own
    assert show_case(books, CASE.number).proceeds_usd == 0
    verify_ledger(books)
    verify_audit(books)


def test_a_sale_needs_its_details_and_a_licensed_venue(books: Reserve) -> None:
    sale = approved(books, order(S.SEIZED, S.INTERLOCUTORY_SOLD, BTC))
    where = f"legal-order:{sale}"
    before = state(books)
    with pytest.raises(InvalidInput) as refused:
        execute_order(books, sale, actor="legal7")
    assert {(p.where, p.field) for p in refused.value.problems} == {
        (where, "venue"), (where, "sale_ref"), (where, "price_usd"), (where, "fee_usd"),
    }  # fmt: skip
    with pytest.raises(InvalidInput) as refused:
        execute_order(
            books, sale, actor="legal7", **{**AIX, "venue": "BINANCE", "fee_usd": Decimal("0.001")},
            fund="SFDA", fund_account=CUSTODY,
        )  # fmt: skip
    assert {str(p) for p in refused.value.problems} == {
        f"{where}: venue: 'BINANCE' is not a licensed venue (AIX, ATAIX, INTEBIX)",
        f"{where}: fee_usd: 0.001 is not a whole number of cents; USD is booked to the cent",
        f"{where}: fund: an order to INTERLOCUTORY_SOLD does not use it",
        f"{where}: fund_account: an order to INTERLOCUTORY_SOLD does not use it",
    }
    with pytest.raises(InvalidInput, match=r"fee_usd: 70000 exceeds the gross proceeds 64250\.50"):
        execute_order(books, sale, actor="legal7", **{**AIX, "fee_usd": Decimal(70000)})
    with pytest.raises(InvalidInput, match="price_usd: 0 is not a positive price"):
        execute_order(books, sale, actor="legal7", **{**AIX, "price_usd": Decimal(0)})
    assert state(books) == before


def test_a_sale_after_forfeiture_names_an_existing_fund(books: Reserve) -> None:
    execute_order(books, approved(books, order(S.SEIZED, S.FORFEITED, 5 * BTC)), actor="legal7")
    sale = approved(books, order(S.FORFEITED, S.SOLD, BTC))
    before = state(books)
    with pytest.raises(InvalidInput, match="fund: a sale after forfeiture names the fund"):
        execute_order(books, sale, actor="legal7", **AIX)
    with pytest.raises(InvalidInput, match="fund: unknown fund 'NOPE'"):
        execute_order(books, sale, actor="legal7", fund="NOPE", **AIX)
    assert state(books) == before


def test_selling_more_than_the_state_holds_or_a_trade_twice_is_refused(books: Reserve) -> None:
    before = state(books)
    with pytest.raises(InvalidInput, match="600000000 units are not SEIZED: the case holds 5000"):
        approved(books, order(S.SEIZED, S.INTERLOCUTORY_SOLD, 6 * BTC))
    assert state(books) == before
    first = approved(books, order(S.SEIZED, S.INTERLOCUTORY_SOLD, 3 * BTC))
    second = approved(books, order(S.SEIZED, S.INTERLOCUTORY_SOLD, 3 * BTC))
    execute_order(books, first, actor="legal7", **AIX)
    before = state(books)
    with pytest.raises(InvalidInput) as refused:
        execute_order(books, second, actor="legal7", **AIX)
    assert {str(p) for p in refused.value.problems} == {
        f"legal-order:{second}: amount: 300000000 units are not SEIZED: the case holds "
        "200000000 in that state",
        f"legal-order:{second}: sale_ref: AIX trade AIX-T-88412 is already booked for order "
        f"{first}",
    }
    assert state(books) == before
    assert units(books) == {S.SEIZED: 2 * BTC, S.INTERLOCUTORY_SOLD: 3 * BTC}


def test_an_unsold_order_takes_no_sale_details(books: Reserve) -> None:
    forfeit = approved(books, order(S.SEIZED, S.FORFEITED, BTC))
    before = state(books)
    with pytest.raises(InvalidInput, match="venue: an order to FORFEITED does not use it"):
        execute_order(books, forfeit, actor="legal7", venue="AIX")
    assert state(books) == before


def test_a_venue_is_licensed_on_the_execution_day_or_not_at_all(
    database_url: str, tmp_path: Path
) -> None:
    policy = tmp_path / "intake.toml"
    text = Settings().intake_policy.read_text(encoding="utf-8")
    policy.write_text(
        text.replace("licensed_from = 2021-01-01\n", "licensed_from = 2021-01-01\n"
                     "licensed_until = 2025-12-31\n", 1),
        encoding="utf-8",
    )  # fmt: skip
    reserve = bootstrap(
        Settings(database_url=database_url, intake_policy=policy), clock=lambda: FIXED_NOW
    )
    try:
        with_case(reserve)
        sale = approved(reserve, order(S.SEIZED, S.INTERLOCUTORY_SOLD, BTC))
        before = state(reserve)
        with pytest.raises(
            InvalidInput, match="AIX is licensed from 2021-01-01 to 2025-12-31, not on 2026-01-15"
        ):
            execute_order(reserve, sale, actor="legal7", **AIX)
        assert state(reserve) == before
        execute_order(reserve, sale, actor="legal7", **{**AIX, "venue": "ATAIX"})
        assert units(reserve) == {S.SEIZED: 4 * BTC, S.INTERLOCUTORY_SOLD: BTC}
    finally:
        reserve.close()
