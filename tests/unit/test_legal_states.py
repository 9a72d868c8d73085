"""The legal life of seized assets: allowed transitions, approvals, and covering orders."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import date

import pytest

from reserve.intake.custody_accounts import case_of, custody_account, custody_equity
from reserve.intake.legal import (
    LEAVES_CUSTODY,
    TRANSITIONS,
    UNDER_HOLD,
    LegalOrder,
    LegalPosition,
    LegalState,
    covering_order_problems,
    order_problems,
)

S = LegalState
DOC = hashlib.sha256(b"Court decision 2-114/2024, scanned").hexdigest()
SEIZED_10 = LegalPosition("2024-001", "BTC").with_seizure(10)


def order(frm: LegalState, to: LegalState, amount: int = 4, **kw: object) -> LegalOrder:
    base = LegalOrder(
        "2024-001", "BTC", amount, frm, to, "2-114/2024", date(2024, 5, 2), DOC,
        proposer="legal-1", approvers=frozenset({"legal-2", "judge-liaison"}),
    )  # fmt: skip
    return replace(base, **kw)  # type: ignore[arg-type]


def reasons(position: LegalPosition, o: LegalOrder) -> list[str]:
    return [f"{p.field}: {p.reason}" for p in order_problems(position, o, where="order 1")]


def test_the_table_reaches_the_reserve_only_through_forfeiture() -> None:
    reaching = [
        state for state, targets in TRANSITIONS.items() if S.TRANSFERRED_TO_RESERVE in targets
    ]
    assert reaching == [S.FORFEITED]
    assert all(not TRANSITIONS[state] for state in LEAVES_CUSTODY)  # leaving custody is final
    assert set(LegalState) == UNDER_HOLD | LEAVES_CUSTODY


def test_a_valid_order_moves_units_and_conserves_them() -> None:
    restrained = SEIZED_10.after(order(S.SEIZED, S.RESTRAINED, 10))
    forfeited = restrained.after(order(S.RESTRAINED, S.FORFEITED, 7))
    assert reasons(restrained, order(S.RESTRAINED, S.FORFEITED, 7)) == []
    assert (forfeited.held(S.RESTRAINED), forfeited.held(S.FORFEITED)) == (3, 7)
    assert forfeited.seized == 10
    assert forfeited.in_custody == 10


@pytest.mark.parametrize(
    ("frm", "to"),
    [
        (S.SEIZED, S.TRANSFERRED_TO_RESERVE),
        (S.RESTRAINED, S.SOLD),
        (S.RETURNED, S.SEIZED),
        (S.SOLD, S.FORFEITED),
    ],
)
def test_a_transition_outside_the_table_is_refused(frm: LegalState, to: LegalState) -> None:
    position = LegalPosition("2024-001", "BTC", {frm: 10})
    assert any(
        r.startswith(f"to_state: {frm} -> {to} is not allowed")
        for r in reasons(position, order(frm, to))
    )


def test_one_approver_or_the_proposer_approving_is_refused() -> None:
    alone = order(S.SEIZED, S.RESTRAINED, approvers=frozenset({"legal-2"}))
    assert reasons(SEIZED_10, alone) == [
        "approvers: needs 2 distinct approvers besides the proposer"
    ]
    own = order(S.SEIZED, S.RESTRAINED, approvers=frozenset({"legal-1", "legal-2"}))
    assert reasons(SEIZED_10, own) == [
        "approvers: legal-1 proposed this transition and cannot approve it",
        "approvers: needs 2 distinct approvers besides the proposer",
    ]


def test_more_than_the_state_holds_and_missing_papers_are_all_named() -> None:
    bad = order(S.SEIZED, S.RETURNED, 11, reference=" ", document_sha256="ABC")
    assert reasons(SEIZED_10, bad) == [
        "amount: 11 units are not SEIZED: the case holds 10 in that state",
        "reference: a transition needs the court decision or order it carries out",
        "document_sha256: must be the lowercase hex sha256 of the order's document file",
        "recipients: a return or restitution names who receives the units",
    ]


def test_units_leave_custody_only_under_an_order_covering_case_asset_and_amount() -> None:
    returned = order(S.SEIZED, S.RETURNED, 4, recipients=("victim-1",))
    assert (
        covering_order_problems([returned], case="2024-001", asset="BTC", amount=4, where="m") == []
    )
    for case, asset, amount in (
        ("2024-002", "BTC", 4),
        ("2024-001", "ETH", 4),
        ("2024-001", "BTC", 5),
    ):
        [problem] = covering_order_problems(
            [returned], case=case, asset=asset, amount=amount, where="m"
        )
        assert "under legal hold" in problem.reason
    restraint = order(S.SEIZED, S.RESTRAINED, 10)  # restraint keeps units in custody
    assert covering_order_problems([restraint], case="2024-001", asset="BTC", amount=1, where="m")


def test_each_case_has_its_own_accounts() -> None:
    assert custody_account("2024-001", "BTC") == "Assets:Custody:Seized:2024-001:BTC"
    assert case_of(custody_account("2024-001", "BTC", "cold")) == "2024-001"
    assert case_of(custody_equity("2024-002")) == "2024-002"
    assert case_of("Assets:Reserve:SFDA:BTC:vault-astana-1") is None
