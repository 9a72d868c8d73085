"""Over any sequence of proposals, approvals and executions on a real database: a fund holds a
case's units only after an executed forfeiture and transfer, and every seized unit is accounted
for (seized = still held + transferred + returned + restituted)."""

from __future__ import annotations

import hashlib
import itertools
from datetime import date
from decimal import Decimal

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from reserve.bootstrap import Reserve
from reserve.core.errors import InvalidInput
from reserve.governance.people import OrgUnit, Role, User
from reserve.intake.cases import SeizedAsset, SeizureCase
from reserve.intake.legal import LEAVES_CUSTODY, TRANSITIONS, LegalOrder, LegalState
from reserve.services.governance import add_unit, add_user
from reserve.services.intake_cases import (
    approve_order,
    case_position,
    execute_order,
    list_orders,
    open_case,
    propose_order,
    record_seizure,
)
from reserve.services.ledger import balances

from conftest import FIXED_NOW

S = LegalState
DOC = hashlib.sha256(b"order").hexdigest()
_cases = itertools.count(1)
ALLOWED = sorted((frm, to) for frm, targets in TRANSITIONS.items() for to in targets)
pairs = st.one_of(st.sampled_from(ALLOWED), st.tuples(st.sampled_from(S), st.sampled_from(S)))
steps = st.lists(
    st.tuples(
        pairs,
        st.integers(1, 15),
        st.sampled_from([2, 2, 2, 1, 0]),  # approvals: mostly enough, sometimes too few
        st.sampled_from([True, True, True, False]),  # execute
    ),
    max_size=15,
)


def staff(reserve: Reserve) -> None:
    add_unit(reserve, OrgUnit("HQ", "Head office"), actor="setup")
    add_user(reserve, User("root", "Root", "HQ", frozenset({Role.ADMINISTRATOR})), actor="setup")
    add_user(reserve, User("ida", "Ida", "HQ", frozenset({Role.INTAKE_OFFICER})), actor="root")
    for name in ("lea", "leo", "lin"):
        add_user(reserve, User(name, name, "HQ", frozenset({Role.LEGAL_OFFICER})), actor="root")


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seized=st.lists(st.integers(10, 50), min_size=1, max_size=3), steps=steps)
@example(  # the whole life at least once: forfeit, transfer part, return part, over-transfer
    seized=[30],
    steps=[
        ((S.SEIZED, S.FORFEITED), 20, 2, True),
        ((S.FORFEITED, S.TRANSFERRED_TO_RESERVE), 12, 2, True),
        ((S.SEIZED, S.RETURNED), 5, 2, True),
        ((S.FORFEITED, S.TRANSFERRED_TO_RESERVE), 9, 2, True),
    ],
)
def test_funds_hold_case_units_only_after_forfeiture_and_units_are_conserved(
    sqlite_reserve: Reserve,
    seized: list[int],
    steps: list[tuple[tuple[LegalState, LegalState], int, int, bool]],
) -> None:
    reserve = sqlite_reserve
    with reserve.reading() as uow:
        staffed = uow.governance.has_users()
    if not staffed:
        staff(reserve)
    number = f"P-{next(_cases)}"
    vault = f"Assets:Reserve:SFDA:BTC:{number}"
    open_case(reserve, SeizureCase(number, "AFM", "Court", "", date(2024, 1, 1)), actor="ida")
    for i, amount in enumerate(seized):
        txid = hashlib.sha256(f"{number}:{i}".encode()).hexdigest()
        asset = SeizedAsset(number, "bitcoin", "BTC", amount, txid, 0, "a", "b", FIXED_NOW)
        record_seizure(
            reserve, asset, fair_value_usd=Decimal(1), fair_value_kzt=Decimal(1), actor="ida"
        )
    for (frm, to), amount, approvals, execute in steps:
        draft = LegalOrder(
            number, "BTC", amount, frm, to, "ref", date(2024, 6, 1), DOC, "", frozenset(), ("v",)
        )
        try:
            order_id = propose_order(reserve, draft, actor="lea").id
            for approver in ("leo", "lin")[:approvals]:
                approve_order(reserve, order_id, actor=approver)
            if execute:
                execute_order(
                    reserve, order_id, actor="lea", fund="SFDA", fund_account=vault,
                    fair_value_usd=Decimal(2), fair_value_kzt=Decimal(900),
                )  # fmt: skip
        except InvalidInput:
            pass  # a refused step changes nothing; the invariants below still hold
        (line,) = case_position(reserve, number)
        held = line.units
        in_fund = sum(b.amount for b in balances(reserve, account_prefix=vault))
        executed = [o.order for o in list_orders(reserve, case=number) if o.status == "EXECUTED"]
        forfeited = sum(o.amount for o in executed if o.to_state is S.FORFEITED)
        transferred = sum(o.amount for o in executed if o.to_state is S.TRANSFERRED_TO_RESERVE)
        assert in_fund == transferred == held.get(S.TRANSFERRED_TO_RESERVE, 0)
        assert transferred <= forfeited
        assert line.custody_balance == line.in_custody
        left = sum(held.get(state, 0) for state in LEAVES_CUSTODY)
        assert line.in_custody + left == sum(seized)
        assert all(n > 0 for n in held.values())
        assert all(len(o.approvers) == 0 for o in executed)  # approvals are kept apart
