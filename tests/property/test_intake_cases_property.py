"""Over any sequence of proposals, approvals and executions, sales among them, on a real database:
a fund holds a case's units only after an executed forfeiture and transfer, and a sale's proceeds
only after a forfeiture; every seized unit is accounted for (seized = still held + transferred +
returned + restituted + sold); fund and custodial holdings never overlap."""

from __future__ import annotations

import hashlib
import itertools
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from reserve.bootstrap import Reserve
from reserve.core.errors import InvalidInput
from reserve.governance.people import OrgUnit, Role, User
from reserve.intake.cases import SeizedAsset, SeizureCase
from reserve.intake.custody_accounts import case_of, custody_account
from reserve.intake.legal import TRANSITIONS, LegalOrder, LegalState
from reserve.services.governance import add_unit, add_user
from reserve.services.holdings import CONSOLIDATED, holdings_by_fund
from reserve.services.intake_cases import case_position, open_case, record_seizure
from reserve.services.intake_orders import (
    approve_order,
    execute_order,
    list_orders,
    propose_order,
)
from reserve.services.integrity import verify_ledger
from reserve.services.ledger import balances, list_accounts

from conftest import FIXED_NOW

S = LegalState
DOC = hashlib.sha256(b"order").hexdigest()
_cases = itertools.count(1)
ALLOWED = sorted((frm, to) for frm, targets in TRANSITIONS.items() for to in targets)
pairs = st.one_of(st.sampled_from(ALLOWED), st.tuples(st.sampled_from(S), st.sampled_from(S)))
sales = st.tuples(
    st.sampled_from(["AIX", "AIX", "ATAIX", "NOWHERE"]),  # sometimes not a licensed venue
    st.sampled_from([Decimal("64250.50"), Decimal(10**9), Decimal("0.5")]),  # USD per BTC
    st.sampled_from([Decimal(0), Decimal("0.01"), Decimal("2.00")]),  # fee, may exceed gross
)
steps = st.lists(
    st.tuples(
        pairs,
        st.integers(1, 15),
        st.sampled_from([2, 2, 2, 1, 0]),  # approvals: mostly enough, sometimes too few
        st.sampled_from([True, True, True, False]),  # execute
        sales,
    ),
    max_size=15,
)
Step = tuple[tuple[LegalState, LegalState], int, int, bool, tuple[str, Decimal, Decimal]]
AIX_SALE = ("AIX", Decimal(10**9), Decimal("0.01"))


def staff(reserve: Reserve) -> None:
    add_unit(reserve, OrgUnit("HQ", "Head office"), actor="setup")
    add_user(reserve, User("root", "Root", "HQ", frozenset({Role.ADMINISTRATOR})), actor="setup")
    add_user(
        reserve,
        User("intake9", "Intake officer", "HQ", frozenset({Role.INTAKE_OFFICER})),
        actor="root",
    )
    for name in ("legal7", "legal8", "legal9"):
        add_user(reserve, User(name, name, "HQ", frozenset({Role.LEGAL_OFFICER})), actor="root")


def net_cents(amount: int, price: Decimal, fee: Decimal) -> int:
    gross = (Decimal(amount).scaleb(-8) * price).quantize(Decimal("0.01"), ROUND_HALF_EVEN)
    return int((gross - fee).scaleb(2))


def details(to: LegalState, vault: str, sale_ref: str, sale: tuple[str, Decimal, Decimal]) -> Any:
    """What an execution of an order to ``to`` takes, and nothing it does not use."""
    venue, price, fee = sale
    sold = {"venue": venue, "sale_ref": sale_ref, "price_usd": price, "fee_usd": fee}
    if to is S.TRANSFERRED_TO_RESERVE:
        return {
            "fund": "SFDA", "fund_account": vault, "fair_value_usd": Decimal(2),
            "fair_value_kzt": Decimal(900),
        }  # fmt: skip
    if to is S.INTERLOCUTORY_SOLD:
        return sold
    if to is S.SOLD:
        return {**sold, "fund": "SFDA"}
    return {}


def in_funds(reserve: Reserve) -> dict[str, int]:
    return {h.asset: h.amount for h in holdings_by_fund(reserve) if h.book == CONSOLIDATED}


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seized=st.lists(st.integers(10, 50), min_size=1, max_size=3), steps=steps)
@example(  # the whole life at least once: forfeit, transfer part, return part, over-transfer
    seized=[30],
    steps=[
        ((S.SEIZED, S.FORFEITED), 20, 2, True, AIX_SALE),
        ((S.FORFEITED, S.TRANSFERRED_TO_RESERVE), 12, 2, True, AIX_SALE),
        ((S.SEIZED, S.RETURNED), 5, 2, True, AIX_SALE),
        ((S.FORFEITED, S.TRANSFERRED_TO_RESERVE), 9, 2, True, AIX_SALE),
    ],
)
@example(  # and sales: interlocutory, after forfeiture, and more than the state holds
    seized=[40],
    steps=[
        ((S.SEIZED, S.INTERLOCUTORY_SOLD), 7, 2, True, AIX_SALE),
        ((S.SEIZED, S.FORFEITED), 20, 2, True, AIX_SALE),
        ((S.FORFEITED, S.SOLD), 8, 2, True, ("ATAIX", Decimal("64250.50"), Decimal(0))),
        ((S.FORFEITED, S.SOLD), 13, 2, True, AIX_SALE),
        ((S.SEIZED, S.INTERLOCUTORY_SOLD), 3, 2, True, ("NOWHERE", Decimal(1), Decimal(0))),
    ],
)
def test_funds_hold_case_units_only_after_forfeiture_and_units_are_conserved(
    sqlite_reserve: Reserve, seized: list[int], steps: list[Step]
) -> None:
    reserve = sqlite_reserve
    with reserve.reading() as uow:
        staffed = uow.governance.has_users()
    if not staffed:
        staff(reserve)
    number = f"P-{next(_cases)}"
    vault = f"Assets:Reserve:SFDA:BTC:{number}"
    open_case(reserve, SeizureCase(number, "AFM", "Court", "", date(2024, 1, 1)), actor="intake9")
    for i, amount in enumerate(seized):
        txid = hashlib.sha256(f"{number}:{i}".encode()).hexdigest()
        asset = SeizedAsset(number, "bitcoin", "BTC", amount, txid, 0, "a", "b", FIXED_NOW)
        record_seizure(
            reserve, asset, fair_value_usd=Decimal(1), fair_value_kzt=Decimal(1), actor="intake9"
        )
    funds_before = in_funds(reserve)  # earlier examples share the database
    expected = {S.INTERLOCUTORY_SOLD: 0, S.SOLD: 0}  # net proceeds in cents
    for i, ((frm, to), amount, approvals, execute, sale) in enumerate(steps):
        draft = LegalOrder(
            number, "BTC", amount, frm, to, "ref", date(2024, 6, 1), DOC, "", frozenset(), ("v",)
        )
        try:
            order_id = propose_order(reserve, draft, actor="legal7").id
            for approver in ("legal8", "legal9")[:approvals]:
                approve_order(reserve, order_id, actor=approver)
            if execute:
                given = details(to, vault, f"{number}-{i}", sale)
                execute_order(reserve, order_id, actor="legal7", **given)
                if to in expected:
                    expected[to] += net_cents(amount, sale[1], sale[2])
        except InvalidInput:
            pass  # a refused step changes nothing; the invariants below still hold
        (line,) = case_position(reserve, number)
        held = line.units
        in_fund = sum(b.amount for b in balances(reserve, account_prefix=vault))
        executed = [o.order for o in list_orders(reserve, case=number) if o.status == "EXECUTED"]

        def total(state: LegalState, orders: list[LegalOrder] = executed) -> int:
            return sum(o.amount for o in orders if o.to_state is state)

        transferred = total(S.TRANSFERRED_TO_RESERVE)
        assert in_fund == transferred == held.get(S.TRANSFERRED_TO_RESERVE, 0)
        assert transferred + total(S.SOLD) <= total(S.FORFEITED)
        assert line.custody_balance == line.in_custody
        assert sum(seized) == (
            line.in_custody + transferred + total(S.RETURNED) + total(S.RESTITUTED) + line.sold
        )
        assert line.sold == total(S.INTERLOCUTORY_SOLD) + total(S.SOLD)
        assert all(n > 0 for n in held.values())
        assert all(len(o.approvers) == 0 for o in executed)  # approvals are kept apart
        # the reserve gains this case's units only by transfer, its money only by sale after
        # forfeiture; interlocutory proceeds stay in the case's custody cash
        funds = in_funds(reserve)
        assert funds.get("BTC", 0) - funds_before.get("BTC", 0) == transferred
        assert funds.get("USD", 0) - funds_before.get("USD", 0) == expected[S.SOLD]
        cash = balances(reserve, account_prefix=custody_account(number, "USD"))
        assert sum(b.amount for b in cash) == expected[S.INTERLOCUTORY_SOLD]
    fund_of = {a.name: a.fund for a in list_accounts(reserve)}
    for b in balances(reserve, account_prefix="Assets"):
        assert (fund_of[b.account] is None) == (case_of(b.account) is not None), b.account
    verify_ledger(reserve)
