"""Governance: organisational units, users and their roles, approvals, the audit log.

Revision ID: 0002_governance
Revises: 0001_ledger
"""

import sqlalchemy as sa
from alembic import op

from reserve.storage.triggers import append_only_sql, drop_append_only_sql

revision = "0002_governance"
down_revision = "0001_ledger"
branch_labels = None
depends_on = None

APPEND_ONLY = ("approvals", "audit_log")
Seq = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "org_units",
        sa.Column("code", sa.String(16), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
    )
    op.create_table(
        "users",
        sa.Column("username", sa.String(40), primary_key=True),
        sa.Column("full_name", sa.String(200), nullable=False),
        sa.Column("unit", sa.String(16), sa.ForeignKey("org_units.code"), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
    )
    op.create_table(
        "user_roles",
        sa.Column("username", sa.String(40), sa.ForeignKey("users.username"), primary_key=True),
        sa.Column("role", sa.String(32), primary_key=True),
    )
    op.create_table(
        "approvals",
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("approver", sa.String(40), sa.ForeignKey("users.username"), nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rule", sa.String(100), nullable=False),
        sa.PrimaryKeyConstraint("subject", "request_hash", "approver"),
    )
    op.create_table(
        "audit_log",
        sa.Column("seq", Seq, primary_key=True, autoincrement=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("action", sa.String(60), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("details", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("seq", Seq, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.execute(
        sa.text("INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, :h)").bindparams(h="0" * 64)
    )
    for statement in append_only_sql(op.get_bind().dialect.name, APPEND_ONLY):
        op.execute(statement)


def downgrade() -> None:
    for statement in drop_append_only_sql(op.get_bind().dialect.name, APPEND_ONLY):
        op.execute(statement)
    for table in ("audit_head", "audit_log", "approvals", "user_roles", "users", "org_units"):
        op.drop_table(table)
