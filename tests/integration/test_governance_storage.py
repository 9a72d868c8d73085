"""Governance on real databases: users, approvals and the audit log, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from reserve.bootstrap import Reserve
from reserve.core.errors import Conflict, IntegrityFailure, InvalidInput, NotFound
from reserve.governance.approvals import ApprovalRule, approval_problems, request_hash
from reserve.governance.people import OrgUnit, Role, User
from reserve.ledger.accounts import Account
from reserve.ledger.assets import Fund
from reserve.services.governance import (
    add_unit,
    add_user,
    approvals_for,
    audit_log,
    grant_role,
    list_users,
    record_approval,
    revoke_role,
    set_user_active,
    verify_audit,
)
from reserve.services.ledger import open_accounts, post_entries, register_fund, reverse_entry
from reserve.storage.tables import GOVERNANCE_APPEND_ONLY
from reserve.storage.triggers import drop_append_only_sql

from conftest import FIXED_NOW
from support import DAY, VAULT, intake, open_standard

ADMIN = "root"
RULE = ApprovalRule("committee-2", frozenset({Role.COMMITTEE_MEMBER}), quorum=2)
REQUEST = {"asset": "BNB", "amount_usd": "5000000.00"}


def person(name: str, *roles: Role, unit: str = "HQ") -> User:
    return User(name, name.title(), unit, frozenset(roles))


def staffed(reserve: Reserve) -> Reserve:
    add_unit(reserve, OrgUnit("HQ", "Head office"), actor="setup")
    add_unit(reserve, OrgUnit("IC", "Investment committee"), actor="setup")
    add_user(reserve, person(ADMIN, Role.ADMINISTRATOR), actor="setup")
    for name in ("ana", "bek", "cem"):
        add_user(reserve, person(name, Role.COMMITTEE_MEMBER, unit="IC"), actor=ADMIN)
    add_user(reserve, person("intake9", Role.INTAKE_OFFICER), actor=ADMIN)
    return reserve


@pytest.fixture
def people(reserve: Reserve) -> Reserve:
    return staffed(reserve)


def state(reserve: Reserve) -> tuple[Any, ...]:
    """Everything a refused use case must leave as it was."""
    with reserve.reading() as uow:
        return (
            uow.ledger.head(),
            sorted(uow.ledger.current_balances().items()),
            sorted(uow.ledger.accounts()),
            uow.governance.audit_head(),
            uow.governance.count_audit(),
            sorted(uow.governance.users().values(), key=lambda u: u.username),
            sorted(uow.governance.units()),
            uow.governance.approvals_for("purchase:P-1"),
        )


def stored_users(reserve: Reserve) -> dict[str, User]:
    with reserve.reading() as uow:
        return uow.governance.users()


def actions(reserve: Reserve) -> list[tuple[str, str, str]]:
    return [(r.actor, r.action, r.subject) for r in audit_log(reserve)]


# -- bootstrap and administrators ---------------------------------------------------------------
def test_the_first_user_must_be_an_administrator(reserve: Reserve) -> None:
    add_unit(reserve, OrgUnit("HQ", "Head office"), actor="setup")
    before = state(reserve)
    with pytest.raises(InvalidInput, match="the first user must be an active administrator"):
        add_user(reserve, person("intake9", Role.INTAKE_OFFICER), actor="setup")
    assert state(reserve) == before
    add_user(reserve, person(ADMIN, Role.ADMINISTRATOR), actor="setup")
    assert [u.username for u in list_users(reserve)] == [ADMIN]
    assert actions(reserve) == [("setup", "units.add", "HQ"), ("setup", "users.add", ADMIN)]


def test_only_an_administrator_adds_users(people: Reserve) -> None:
    before = state(people)
    with pytest.raises(InvalidInput, match="intake9 is not an administrator"):
        add_user(people, person("auditor9", Role.AUDITOR), actor="intake9")
    with pytest.raises(InvalidInput, match="intake9 is not an administrator"):
        add_unit(people, OrgUnit("OPS", "Operations"), actor="intake9")
    assert state(people) == before
    add_user(people, person("auditor9", Role.AUDITOR), actor=ADMIN)
    assert "auditor9" in {u.username for u in list_users(people)}


def test_a_user_needs_a_known_unit_and_a_free_name(people: Reserve) -> None:
    with pytest.raises(InvalidInput, match="unit: unknown unit 'NOPE'"):
        add_user(people, person("auditor9", Role.AUDITOR, unit="NOPE"), actor=ADMIN)
    with pytest.raises(Conflict, match="ana is already registered"):
        add_user(people, person("ana", Role.AUDITOR), actor=ADMIN)
    with pytest.raises(NotFound, match="'zed' is not a registered user"):
        set_user_active(people, "zed", active=False, actor=ADMIN)


def test_the_last_active_administrator_cannot_lock_everyone_out(people: Reserve) -> None:
    grant_role(people, ADMIN, Role.AUDITOR, actor=ADMIN)
    before = state(people)
    with pytest.raises(InvalidInput, match="root is the last active administrator"):
        set_user_active(people, ADMIN, active=False, actor=ADMIN)
    with pytest.raises(InvalidInput, match="root is the last active administrator"):
        revoke_role(people, ADMIN, Role.ADMINISTRATOR, actor=ADMIN)
    assert state(people) == before
    grant_role(people, "intake9", Role.ADMINISTRATOR, actor=ADMIN)
    set_user_active(people, ADMIN, active=False, actor=ADMIN)  # another administrator remains
    assert stored_users(people)[ADMIN].active is False


def test_roles_are_granted_and_revoked_and_a_user_keeps_one(people: Reserve) -> None:
    assert Role.CUSTODIAN in grant_role(people, "intake9", Role.CUSTODIAN, actor=ADMIN).roles
    assert revoke_role(people, "intake9", Role.INTAKE_OFFICER, actor=ADMIN).roles == {
        Role.CUSTODIAN
    }
    with pytest.raises(InvalidInput, match="custodian is the last role"):
        revoke_role(people, "intake9", Role.CUSTODIAN, actor=ADMIN)
    [intake9] = [u for u in list_users(people) if u.username == "intake9"]
    assert intake9.roles == {Role.CUSTODIAN}
    assert actions(people)[-2:] == [
        (ADMIN, "users.grant", "intake9"),
        (ADMIN, "users.revoke", "intake9"),
    ]


# -- who acts -----------------------------------------------------------------------------------
def test_without_users_any_actor_may_write(reserve: Reserve) -> None:
    open_standard(reserve)
    post_entries(reserve, [intake("in", VAULT, 10)], actor="anyone")
    assert actions(reserve)[-1] == ("anyone", "ledger.post", "ledger")


@pytest.mark.parametrize(("actor", "reason"), [("zed", "'zed' is not a registered user"),
                                               ("ana", "ana is deactivated")])  # fmt: skip
def test_once_users_exist_an_unknown_or_inactive_actor_writes_nothing(
    reserve: Reserve, actor: str, reason: str
) -> None:
    open_standard(reserve)
    post_entries(reserve, [intake("in", VAULT, 10)], actor="before-anyone-registered")
    people = staffed(reserve)
    set_user_active(people, "ana", active=False, actor=ADMIN)
    before = state(people)
    attempts = [
        lambda: post_entries(people, [intake("again", VAULT, 1)], actor=actor),
        lambda: reverse_entry(people, 1, key="fix:1", on=DAY, memo="", actor=actor),
        lambda: open_accounts(people, [Account("Equity:New", None, DAY)], actor=actor),
        lambda: register_fund(people, Fund("NEWF", "New fund"), actor=actor),
        lambda: add_unit(people, OrgUnit("OPS", "Operations"), actor=actor),
        lambda: record_approval(
            people, subject="purchase:P-1", request=REQUEST, approver=actor, rule=RULE,
            proposer="intake9",
        ),
    ]  # fmt: skip
    for attempt in attempts:
        with pytest.raises(InvalidInput) as caught:
            attempt()
        [problem] = caught.value.problems
        assert (problem.field, problem.reason.startswith(reason)) == ("--as", True)
    assert state(people) == before


# -- the audit log of the ledger ------------------------------------------------------------------
def test_ledger_writes_are_audited_once_per_unit_of_work(reserve: Reserve) -> None:
    open_standard(reserve)
    posted = post_entries(reserve, [intake("a", VAULT, 10), intake("b", VAULT, 5)], actor="clerk")
    post_entries(reserve, [intake("a", VAULT, 10)], actor="clerk")  # a replay: nothing new
    reverse_entry(reserve, 2, key="fix:2", on=DAY, memo="wrong", actor="clerk")
    open_standard(reserve)  # every account already open: nothing new
    register_fund(reserve, Fund("RSRV", "Strategic reserve"), actor="clerk")
    records = audit_log(reserve)
    assert [(r.seq, r.action, r.subject) for r in records] == [
        (1, "accounts.open", "8 accounts"),
        (2, "ledger.post", "ledger"),
        (3, "ledger.reverse", "ledger"),
        (4, "funds.add", "fund RSRV"),
    ]
    assert records[1].details == {
        "first_seq": "1",
        "last_seq": "2",
        "entries": "2",
        "head": posted[-1].hash,
    }
    assert records[2].details["first_seq"] == records[2].details["last_seq"] == "3"
    assert records[1].at == FIXED_NOW
    assert audit_log(reserve, limit=2) == records[-2:]
    report = verify_audit(reserve)
    assert (report.records, report.head) == (4, records[-1].hash)


def test_user_changes_are_audited_with_their_details(people: Reserve) -> None:
    set_user_active(people, "intake9", active=False, actor=ADMIN)
    set_user_active(people, "intake9", active=False, actor=ADMIN)  # no change, no record
    set_user_active(people, "intake9", active=True, actor=ADMIN)
    records = audit_log(people)
    assert [r.action for r in records] == [
        "units.add", "units.add", "users.add", "users.add", "users.add", "users.add",
        "users.add", "users.deactivate", "users.activate",
    ]  # fmt: skip
    assert records[2].details == {
        "full_name": "Root",
        "unit": "HQ",
        "roles": "administrator",
        "active": "true",
    }
    assert verify_audit(people).records == 9


# -- approvals ------------------------------------------------------------------------------------
def test_approvals_are_recorded_and_checked_against_the_rule(people: Reserve) -> None:
    subject = "purchase:P-1"
    first = record_approval(
        people, subject=subject, request=REQUEST, approver="bek", rule=RULE, proposer="ana"
    )
    assert (first.request_hash, first.approved_at, first.rule) == (
        request_hash(REQUEST),
        FIXED_NOW,
        "committee-2",
    )
    pending = approval_problems(
        approvals_for(people, subject), RULE, subject=subject,
        request_hash=request_hash(REQUEST), proposer="ana", users=stored_users(people),
    )  # fmt: skip
    assert [p.reason for p in pending] == ["1 valid approval(s); rule committee-2 needs 2"]
    record_approval(
        people, subject=subject, request=REQUEST, approver="cem", rule=RULE, proposer="ana"
    )
    assert approval_problems(
        approvals_for(people, subject), RULE, subject=subject,
        request_hash=request_hash(REQUEST), proposer="ana", users=stored_users(people),
    ) == []  # fmt: skip
    assert actions(people)[-1] == ("cem", "approvals.record", subject)
    assert audit_log(people)[-1].details == {
        "request_hash": request_hash(REQUEST),
        "rule": "committee-2",
        "proposer": "ana",
    }


def test_the_proposer_and_the_unqualified_cannot_approve(people: Reserve) -> None:
    before = state(people)
    with pytest.raises(InvalidInput, match="ana proposed the request and cannot approve it"):
        record_approval(
            people, subject="purchase:P-1", request=REQUEST, approver="ana", rule=RULE,
            proposer="ana",
        )  # fmt: skip
    with pytest.raises(
        InvalidInput, match="intake9 holds none of the roles rule committee-2 needs"
    ):
        record_approval(
            people, subject="purchase:P-1", request=REQUEST, approver="intake9", rule=RULE,
            proposer="ana",
        )  # fmt: skip
    assert state(people) == before


def test_approving_the_same_request_twice_is_refused(people: Reserve) -> None:
    args: dict[str, Any] = {
        "subject": "purchase:P-1", "request": REQUEST, "rule": RULE, "proposer": "ana",
    }  # fmt: skip
    record_approval(people, approver="bek", **args)
    before = state(people)
    with pytest.raises(Conflict, match="bek has already approved this request"):
        record_approval(people, approver="bek", **args)
    assert state(people) == before
    changed = dict(args, request={**REQUEST, "amount_usd": "6000000.00"})
    record_approval(people, approver="bek", **changed)  # a changed request is a new request
    assert len(approvals_for(people, "purchase:P-1")) == 2


# -- tamper evidence ------------------------------------------------------------------------------
@pytest.mark.parametrize("table", GOVERNANCE_APPEND_ONLY)
@pytest.mark.parametrize("statement", ["UPDATE {t} SET {c} = 'x'", "DELETE FROM {t}"])
def test_triggers_refuse_update_and_delete_on_approvals_and_the_audit_log(
    people: Reserve, table: str, statement: str
) -> None:
    record_approval(
        people, subject="purchase:P-1", request=REQUEST, approver="bek", rule=RULE, proposer="ana"
    )
    column = {"audit_log": "actor", "approvals": "rule"}[table]
    with pytest.raises(DBAPIError, match="append-only"), people.engine.begin() as conn:
        conn.execute(text(statement.format(t=table, c=column)))
    assert verify_audit(people).records == 8
    assert len(approvals_for(people, "purchase:P-1")) == 1


def test_verify_names_the_first_edited_audit_record(people: Reserve) -> None:
    dialect = people.engine.dialect.name
    with people.engine.begin() as conn:
        for statement in drop_append_only_sql(dialect, GOVERNANCE_APPEND_ONLY):
            conn.execute(text(statement))
        conn.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE seq IN (4, 6)"))
    with pytest.raises(IntegrityFailure, match="audit record 4 does not verify") as caught:
        verify_audit(people)
    assert caught.value.first_bad_seq == 4


def test_verify_notices_a_truncated_audit_log(people: Reserve) -> None:
    dialect = people.engine.dialect.name
    with people.engine.begin() as conn:
        for statement in drop_append_only_sql(dialect, GOVERNANCE_APPEND_ONLY):
            conn.execute(text(statement))
        conn.execute(text("DELETE FROM audit_log WHERE seq = 7"))
    with pytest.raises(IntegrityFailure, match="the chain ends at audit record 6") as caught:
        verify_audit(people)
    assert caught.value.first_bad_seq == 7


def test_an_actor_name_too_long_to_store_is_refused_before_anything_is_written(
    reserve: Reserve,
) -> None:
    open_standard(reserve)
    before = state(reserve)
    for actor in ("", "x" * 101):
        with pytest.raises(InvalidInput, match="--as: must be a name of 1 to 100 characters"):
            post_entries(reserve, [intake("in", VAULT, 10)], actor=actor)
    assert state(reserve) == before
    post_entries(reserve, [intake("in", VAULT, 10)], actor="x" * 100)
    assert actions(reserve)[-1] == ("x" * 100, "ledger.post", "ledger")
