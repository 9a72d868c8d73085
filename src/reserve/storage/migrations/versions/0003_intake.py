"""Intake: seizure cases, seized assets, legal orders and their executions.

Revision ID: 0003_intake
Revises: 0002_governance
"""

import sqlalchemy as sa
from alembic import op

from reserve.storage.triggers import append_only_sql, drop_append_only_sql
from reserve.storage.types import BaseUnits

revision = "0003_intake"
down_revision = "0002_governance"
branch_labels = None
depends_on = None

APPEND_ONLY = ("cases", "seized_assets", "legal_orders", "legal_order_executions")
Seq = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("number", sa.String(40), primary_key=True),
        sa.Column("agency", sa.String(200), nullable=False),
        sa.Column("court", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("opened_on", sa.Date, nullable=False),
        sa.Column("opened_by", sa.String(100), nullable=False),
    )
    op.create_table(
        "seized_assets",
        sa.Column("id", Seq, primary_key=True, autoincrement=False),
        sa.Column("case_number", sa.String(40), sa.ForeignKey("cases.number"), nullable=False),
        sa.Column("chain", sa.String(40), nullable=False),
        sa.Column("asset", sa.String(12), sa.ForeignKey("assets.code"), nullable=False),
        sa.Column("amount", BaseUnits, nullable=False),
        sa.Column("txid", sa.String(66), nullable=False),
        sa.Column("vout", sa.Integer, nullable=True),
        sa.Column("outpoint", sa.String(80), nullable=False),
        sa.Column("source_address", sa.String(200), nullable=False),
        sa.Column("destination_address", sa.String(200), nullable=False),
        sa.Column("seized_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("entry_seq", Seq, sa.ForeignKey("entries.seq"), nullable=False),
        sa.UniqueConstraint("outpoint", name="uq_seized_assets_outpoint"),
    )
    op.create_index("ix_seized_assets_case_number", "seized_assets", ["case_number"])
    op.create_table(
        "legal_orders",
        sa.Column("id", Seq, primary_key=True, autoincrement=False),
        sa.Column("case_number", sa.String(40), sa.ForeignKey("cases.number"), nullable=False),
        sa.Column("asset", sa.String(12), sa.ForeignKey("assets.code"), nullable=False),
        sa.Column("amount", BaseUnits, nullable=False),
        sa.Column("from_state", sa.String(32), nullable=False),
        sa.Column("to_state", sa.String(32), nullable=False),
        sa.Column("reference", sa.String(200), nullable=False),
        sa.Column("issued_on", sa.Date, nullable=False),
        sa.Column("document_sha256", sa.String(64), nullable=False),
        sa.Column("proposer", sa.String(100), nullable=False),
        sa.Column("recipients", sa.Text, nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("proposed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_legal_orders_case_number", "legal_orders", ["case_number"])
    op.create_table(
        "legal_order_executions",
        sa.Column("order_id", Seq, sa.ForeignKey("legal_orders.id"), primary_key=True),
        sa.Column("executed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("entry_seq", Seq, sa.ForeignKey("entries.seq"), nullable=True),
    )
    for statement in append_only_sql(op.get_bind().dialect.name, APPEND_ONLY):
        op.execute(statement)


def downgrade() -> None:
    for statement in drop_append_only_sql(op.get_bind().dialect.name, APPEND_ONLY):
        op.execute(statement)
    for table in reversed(APPEND_ONLY):
        op.drop_table(table)
