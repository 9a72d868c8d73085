"""Over any sequence of approval attempts on a real database: a fill is accepted exactly when
M distinct committee members other than the proposer approved; the proposer's own approval,
an outsider's or a second one by the same member never counts."""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from reserve.bootstrap import Reserve
from reserve.core.errors import InvalidInput
from reserve.governance.people import OrgUnit, Role, User
from reserve.intake.purchases import Fill, FundingSource, OrderStatus, Proposal
from reserve.services.governance import add_unit, add_user
from reserve.services.intake_context import policy_in_force
from reserve.services.intake_purchases import (
    approve_purchase,
    propose_purchase,
    record_fill,
    show_purchase,
)

COMMITTEE = ("ic1", "ic2", "ic3", "ic4", "ic5")
EVERYONE = (*COMMITTEE, "intake1", "admin")
_orders = itertools.count(1)


def staff(reserve: Reserve) -> None:
    add_unit(reserve, OrgUnit("HQ", "Head office"), actor="setup")
    add_user(reserve, User("admin", "Admin", "HQ", frozenset({Role.ADMINISTRATOR})), actor="setup")
    officer = User("intake1", "Intake officer", "HQ", frozenset({Role.INTAKE_OFFICER}))
    add_user(reserve, officer, actor="admin")
    for name in COMMITTEE:
        member = User(name, name, "HQ", frozenset({Role.COMMITTEE_MEMBER}))
        add_user(reserve, member, actor="admin")


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    proposer=st.sampled_from(COMMITTEE),
    attempts=st.lists(st.sampled_from(EVERYONE), max_size=8),
)
def test_no_fill_below_quorum_and_the_proposer_never_counts(
    sqlite_reserve: Reserve, proposer: str, attempts: list[str]
) -> None:
    reserve = sqlite_reserve
    with reserve.reading() as uow:
        staffed = uow.governance.has_users()
    if not staffed:
        staff(reserve)
    quorum = policy_in_force(reserve).policy.committee.quorum
    order = f"PO-{next(_orders)}"
    proposal = Proposal(
        order, FundingSource.GOLD, Decimal(1_000_000), "BTC", "SFDA", date(2025, 6, 1),
        date(2025, 6, 30), proposer,
    )  # fmt: skip
    propose_purchase(reserve, proposal, actor=proposer)
    counted: set[str] = set()
    for who in attempts:
        try:
            approve_purchase(reserve, order, actor=who)
        except InvalidInput:
            assert who == proposer or who not in COMMITTEE or who in counted
            continue
        assert who != proposer
        assert who in COMMITTEE
        counted.add(who)
    fill = Fill(
        "AIX", 1_000_000, Decimal(90000), Decimal(1), date(2025, 6, 2), f"{order}-1",
        Decimal("480.5"),
    )  # fmt: skip
    enough = len(counted) >= quorum
    event("quorum reached" if enough else "below quorum")
    if enough:
        assert record_fill(reserve, order, fill, actor="intake1").created
    else:
        with pytest.raises(InvalidInput, match="is PROPOSED, not APPROVED: it takes no fills"):
            record_fill(reserve, order, fill, actor="intake1")
    view = show_purchase(reserve, order)
    assert set(view.approvers) == counted
    assert view.status is (OrderStatus.APPROVED if enough else OrderStatus.PROPOSED)
    assert view.units_bought == (1_000_000 if enough else 0)
