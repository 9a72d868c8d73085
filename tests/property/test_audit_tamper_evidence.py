"""Any change to any stored field of any audit record makes verify fail at exactly that record."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reserve.core.errors import IntegrityFailure
from reserve.governance.approvals import ApprovalRule
from reserve.governance.people import OrgUnit, Role, User
from reserve.ledger.workload import workload, workload_accounts
from reserve.services.governance import add_unit, add_user, record_approval, verify_audit
from reserve.services.ledger import open_accounts, post_entries

from conftest import make_reserve
from support import copy_without_triggers, tampered

START = date(2022, 6, 1)
RULE = ApprovalRule("committee-2", frozenset({Role.COMMITTEE_MEMBER}), quorum=2)

# (column, how to change the value): values that keep their type, as a careful forger's would,
# and values that no longer read as their type.
FIELDS = [
    ("seq", "key"),
    ("at", "timestamp"),
    ("at", "text"),  # unreadable as a timestamp
    ("actor", "text"),
    ("action", "text"),
    ("subject", "text"),
    ("details", "json"),
    ("details", "text"),  # unreadable as JSON
    ("prev_hash", "text"),
    ("hash", "text"),
]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A log of ledger posts, user changes and approvals, in that mix."""
    path = tmp_path_factory.mktemp("audit-tamper") / "template.db"
    reserve = make_reserve(f"sqlite:///{path}")
    open_accounts(reserve, workload_accounts(START), actor="setup")
    add_unit(reserve, OrgUnit("HQ", "Head office"), actor="setup")
    add_user(reserve, User("root", "Root", "HQ", frozenset({Role.ADMINISTRATOR})), actor="setup")
    for name in ("ana", "bek", "cem"):
        member = User(name, name.title(), "HQ", frozenset({Role.COMMITTEE_MEMBER}))
        add_user(reserve, member, actor="root")
    drafts = list(workload(12, seed=5, start=START))
    for at in range(0, len(drafts), 3):
        post_entries(reserve, drafts[at : at + 3], actor="ana")
        record_approval(
            reserve,
            subject=f"purchase:P-{at}",
            request={"batch": str(at)},
            approver="bek",
            rule=RULE,
            proposer="ana",
        )
    reserve.close()
    return path


def test_the_template_verifies(template: Path) -> None:
    reserve = make_reserve(f"sqlite:///{template}")
    try:
        assert verify_audit(reserve).records == 14
    finally:
        reserve.close()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    field=st.sampled_from(FIELDS),
    pick=st.integers(min_value=0, max_value=10**6),
    nudge=st.integers(1, 9),
)
def test_changing_any_stored_field_breaks_the_audit_chain_at_that_record(
    template: Path, tmp_path: Path, field: tuple[str, str], pick: int, nudge: int
) -> None:
    column, kind = field
    copy = copy_without_triggers(template, tmp_path / f"a{pick}.db")
    with sqlite3.connect(copy) as db:
        rows = db.execute(f"SELECT rowid, seq, {column} FROM audit_log ORDER BY seq").fetchall()
        rowid, seq, old = rows[pick % len(rows)]
        new = tampered(kind, old, nudge)
        assert str(new) != str(old)
        db.execute(f"UPDATE audit_log SET {column} = ? WHERE rowid = ?", (new, rowid))
    reserve = make_reserve(f"sqlite:///{copy}")
    try:
        with pytest.raises(IntegrityFailure) as caught:
            verify_audit(reserve)
        assert caught.value.first_bad_seq == seq, str(caught.value)
    finally:
        reserve.close()
