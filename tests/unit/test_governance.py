"""Governance without a database: users and units, the approval check, the audit chain."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from reserve.core.errors import Problem
from reserve.governance.approvals import (
    Approval,
    ApprovalRule,
    approval_problems,
    request_hash,
    rule_problems,
)
from reserve.governance.audit import AuditRecord, AuditVerifier, audit_payload, next_record
from reserve.governance.people import (
    OrgUnit,
    Role,
    User,
    active_administrators,
    unit_problems,
    user_problems,
)
from reserve.ledger.hashing import GENESIS_HASH

NOW = datetime(2026, 1, 15, 9, 30, tzinfo=UTC)
SUBJECT = "purchase:P-7"
REQUEST = {"asset": "BTC", "amount_usd": "300000000.00", "days": 30}
HASH = request_hash(REQUEST)
COMMITTEE = ApprovalRule("committee-2-of-3", frozenset({Role.COMMITTEE_MEMBER}), quorum=2)
LEGAL = ApprovalRule(
    "legal-two-units", frozenset({Role.LEGAL_OFFICER}), quorum=2, distinct_units=True
)


def member(name: str, unit: str = "IC", *roles: Role, active: bool = True) -> User:
    return User(name, name.title(), unit, frozenset(roles or {Role.COMMITTEE_MEMBER}), active)


USERS = {
    u.username: u
    for u in (
        member("ana"),
        member("bek"),
        member("cem"),
        member("dos", "IC", Role.RISK_OFFICER),
        member("eva", active=False),
        member("lia", "LEGAL", Role.LEGAL_OFFICER),
        member("lou", "LEGAL", Role.LEGAL_OFFICER),
        member("max", "CUSTODY", Role.LEGAL_OFFICER),
    )
}


def approve(approver: str, *, rule: ApprovalRule = COMMITTEE, digest: str = HASH) -> Approval:
    return Approval(SUBJECT, digest, approver, NOW, rule.name)


def check(
    approvals: list[Approval], rule: ApprovalRule = COMMITTEE, proposer: str = "ana"
) -> list[str]:
    found = approval_problems(
        approvals, rule, subject=SUBJECT, request_hash=HASH, proposer=proposer, users=USERS
    )
    return [str(p) for p in found]


# -- people ---------------------------------------------------------------------------------
def test_roles_are_spelled_in_kebab_case() -> None:
    assert sorted(r.value for r in Role) == [
        "administrator",
        "auditor",
        "committee-member",
        "custodian",
        "intake-officer",
        "legal-officer",
        "risk-officer",
    ]


def test_a_malformed_user_reports_every_problem() -> None:
    bad = User("A b", " ", "legal dept", frozenset())
    assert [field for field, _ in user_problems(bad)] == ["username", "full_name", "unit", "roles"]
    good = User("legal1", "Legal officer 1", "LEGAL", frozenset({Role.LEGAL_OFFICER}))
    assert user_problems(good) == []


def test_a_malformed_unit_reports_every_problem() -> None:
    assert [f for f, _ in unit_problems(OrgUnit("legal", ""))] == ["code", "name"]
    assert unit_problems(OrgUnit("LEGAL", "Legal department")) == []


def test_only_active_administrators_count_as_administrators() -> None:
    admin = User("root", "Root", "HQ", frozenset({Role.ADMINISTRATOR, Role.AUDITOR}))
    assert active_administrators([admin, USERS["ana"]]) == {"root"}
    assert active_administrators([replace(admin, active=False)]) == set()


# -- the request hash -------------------------------------------------------------------------
def test_the_request_hash_is_sha256_of_the_ledgers_canonical_json() -> None:
    expected = hashlib.sha256(b'{"amount_usd":"300000000.00","asset":"BTC","days":30}').hexdigest()
    assert request_hash(REQUEST) == expected
    assert request_hash(dict(reversed(list(REQUEST.items())))) == HASH  # key order is irrelevant
    assert request_hash({**REQUEST, "days": 31}) != HASH


# -- the approval check -----------------------------------------------------------------------
def test_two_members_other_than_the_proposer_approve() -> None:
    assert check([approve("bek"), approve("cem")]) == []


def test_the_proposer_never_approves_their_own_request() -> None:
    problems = check([approve("ana"), approve("bek")])
    assert problems == [
        "purchase:P-7: approval by ana: approver: ana proposed the request and cannot approve it",
        "purchase:P-7: approvals: 1 valid approval(s); rule committee-2-of-3 needs 2",
    ]


def test_a_duplicate_approver_counts_once_and_is_reported() -> None:
    problems = check([approve("bek"), approve("bek")])
    assert problems == [
        "purchase:P-7: approval by bek: approver: bek has already approved; counted once",
        "purchase:P-7: approvals: 1 valid approval(s); rule committee-2-of-3 needs 2",
    ]


def test_every_kind_of_defect_is_reported_at_once() -> None:
    approvals = [
        approve("dos"),  # holds no committee role
        approve("eva"),  # deactivated
        approve("zed"),  # not a user
        approve("bek", digest="ff" * 32),  # approved another version of the request
        replace(approve("cem"), rule="other-rule"),
    ]
    problems = check(approvals)
    assert [p.split(": ", 2)[1:] for p in problems[:-1]] == [
        ["approval by dos", "approver: dos holds none of the roles rule committee-2-of-3 needs "
         "(committee-member)"],
        ["approval by eva", "approver: eva is deactivated"],
        ["approval by zed", "approver: 'zed' is not a registered user"],
        ["approval by bek", f"request_hash: approves request ffffffffffff, not the request as it "
         f"stands ({HASH[:12]})"],
        ["approval by cem", "rule: given under rule other-rule, not committee-2-of-3"],
    ]  # fmt: skip
    assert problems[-1].endswith("0 valid approval(s); rule committee-2-of-3 needs 2")


def test_an_approval_of_another_subject_does_not_count() -> None:
    stray = replace(approve("bek"), subject="purchase:P-8")
    problems = check([stray, approve("cem")])
    assert "subject: approves 'purchase:P-8', not 'purchase:P-7'" in problems[0]
    assert problems[-1].endswith("1 valid approval(s); rule committee-2-of-3 needs 2")


def test_m_of_n_with_the_proposer_excluded() -> None:
    rule = replace(COMMITTEE, name="committee-3-of-4", quorum=3)
    three = [approve(n, rule=rule) for n in ("ana", "bek", "cem")]
    assert check(three, rule, proposer="dos") == []
    assert check(three, rule, proposer="ana") == [
        "purchase:P-7: approval by ana: approver: ana proposed the request and cannot approve it",
        "purchase:P-7: approvals: 2 valid approval(s); rule committee-3-of-4 needs 3",
    ]


def test_distinct_units_needs_approvers_from_different_units() -> None:
    same_unit = [approve("lia", rule=LEGAL), approve("lou", rule=LEGAL)]
    problems = check(same_unit, LEGAL, proposer="max")
    assert problems == [
        "purchase:P-7: approval by lou: approver: lou is from unit LEGAL, like lia; "
        "rule legal-two-units wants approvers from different units",
        "purchase:P-7: approvals: 1 valid approval(s); rule legal-two-units needs 2",
    ]
    assert check([approve("lia", rule=LEGAL), approve("max", rule=LEGAL)], LEGAL, "lou") == []


def test_no_approvals_at_all_is_below_quorum() -> None:
    assert approval_problems(
        [], COMMITTEE, subject=SUBJECT, request_hash=HASH, proposer="ana", users=USERS
    ) == [Problem(SUBJECT, "approvals", "0 valid approval(s); rule committee-2-of-3 needs 2")]


def test_a_rule_that_cannot_be_satisfied_is_malformed() -> None:
    assert [f for f, _ in rule_problems(ApprovalRule(" ", frozenset(), 0))] == [
        "name",
        "roles",
        "quorum",
    ]
    assert rule_problems(COMMITTEE) == []


# -- the audit chain ---------------------------------------------------------------------------
def audit_chain(n: int) -> list[AuditRecord]:
    records: list[AuditRecord] = []
    head = (0, GENESIS_HASH)
    for i in range(n):
        record = next_record(
            head,
            at=NOW + timedelta(seconds=i),
            actor="root",
            action="users.add",
            subject=f"user-{i}",
            details={"unit": "HQ", "roles": "auditor"},
        )
        records.append(record)
        head = (record.seq, record.hash)
    return records


def feed_all(records: list[AuditRecord]) -> AuditVerifier:
    verifier = AuditVerifier()
    for record in records:
        verifier.feed(record)
    return verifier


def test_the_audit_payload_is_pinned() -> None:
    [first] = audit_chain(1)
    assert audit_payload(first) == (
        b'{"action":"users.add","actor":"root","at":"2026-01-15T09:30:00.000000Z",'
        b'"details":{"roles":"auditor","unit":"HQ"},"seq":1,"subject":"user-0","v":1}'
    )
    assert first.prev_hash == GENESIS_HASH
    assert first.hash == hashlib.sha256(bytes(32) + audit_payload(first)).hexdigest()


def test_a_sound_audit_chain_verifies() -> None:
    records = audit_chain(5)
    verifier = feed_all(records)
    assert (verifier.broken, verifier.count, verifier.head) == (None, 5, records[-1].hash)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("at", NOW + timedelta(days=1)),
        ("actor", "mallory"),
        ("action", "users.deactivate"),
        ("subject", "someone-else"),
        ("details", {"unit": "HQ", "roles": "administrator"}),
        ("prev_hash", "00" * 32),
        ("hash", "ab" * 32),
    ],
)
def test_an_edited_record_breaks_the_chain_at_that_record(field: str, value: object) -> None:
    records = audit_chain(5)
    records[2] = replace(records[2], **{field: value})  # type: ignore[arg-type]
    verifier = feed_all(records)
    assert verifier.broken is not None
    assert verifier.broken.seq == 3
    assert verifier.count == 2


def test_a_missing_record_is_named() -> None:
    records = audit_chain(5)
    del records[3]
    broken = feed_all(records).broken
    assert broken is not None
    assert (broken.seq, broken.reason) == (4, "record 4 is missing (next stored record is 5)")
