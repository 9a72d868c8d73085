"""Intake: mining operations, outputs and sales; purchase orders, fills and closures.

Revision ID: 0004_mining_purchases
Revises: 0003_intake
"""

from datetime import datetime

import sqlalchemy as sa
from alembic import op

from reserve.storage.triggers import append_only_sql, drop_append_only_sql
from reserve.storage.types import BaseUnits, ExactDecimal

revision = "0004_mining_purchases"
down_revision = "0003_intake"
branch_labels = None
depends_on = None

APPEND_ONLY = (
    "mining_operations",
    "mining_outputs",
    "mining_sales",
    "purchase_orders",
    "purchase_fills",
    "purchase_closures",
)
Seq = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _when(name: str) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "mining_operations",
        sa.Column("code", sa.String(40), primary_key=True),
        sa.Column("site", sa.String(200), nullable=False),
        sa.Column("operator", sa.String(200), nullable=False),
        sa.Column("tariff_kzt_per_mwh", ExactDecimal, nullable=False),
        sa.Column("fund", sa.String(20), sa.ForeignKey("funds.code"), nullable=False),
        sa.Column("asset", sa.String(12), sa.ForeignKey("assets.code"), nullable=False),
        sa.Column("registered_by", sa.String(100), nullable=False),
        _when("registered_at"),
    )
    op.create_table(
        "mining_outputs",
        sa.Column("id", Seq, primary_key=True, autoincrement=False),
        sa.Column(
            "operation", sa.String(40), sa.ForeignKey("mining_operations.code"), nullable=False
        ),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("amount", BaseUnits, nullable=False),
        sa.Column("payout_txids", sa.Text, nullable=False),
        sa.Column("energy_mwh", ExactDecimal, nullable=False),
        sa.Column("cost_kzt", ExactDecimal, nullable=False),
        sa.Column("kzt_per_usd", ExactDecimal, nullable=False),
        sa.Column("rule_from", sa.Date, nullable=False),
        sa.Column("sell_share", ExactDecimal, nullable=False),
        sa.Column("to_sell", BaseUnits, nullable=False),
        sa.Column("to_retain", BaseUnits, nullable=False),
        sa.Column("cost_basis", sa.String(20), nullable=False),
        sa.Column("cost_usd", ExactDecimal, nullable=False),
        sa.Column("fair_value_usd", ExactDecimal, nullable=True),
        sa.Column("policy_sha256", sa.String(64), nullable=False),
        sa.Column("entry_seq", Seq, sa.ForeignKey("entries.seq"), nullable=False),
        sa.Column("recorded_by", sa.String(100), nullable=False),
        _when("recorded_at"),
        sa.UniqueConstraint("operation", "period", name="uq_mining_outputs_operation_period"),
    )
    op.create_table(
        "mining_sales",
        sa.Column("id", Seq, primary_key=True, autoincrement=False),
        sa.Column("venue", sa.String(40), nullable=False),
        sa.Column("ref", sa.String(100), nullable=False),
        sa.Column(
            "operation", sa.String(40), sa.ForeignKey("mining_operations.code"), nullable=False
        ),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("quantity", BaseUnits, nullable=False),
        sa.Column("price_usd", ExactDecimal, nullable=False),
        sa.Column("fee_usd", ExactDecimal, nullable=False),
        sa.Column("sold_on", sa.Date, nullable=False),
        sa.Column("cost_usd", ExactDecimal, nullable=False),
        sa.Column("realised_usd", ExactDecimal, nullable=False),
        sa.Column("policy_sha256", sa.String(64), nullable=False),
        sa.Column("entry_seq", Seq, sa.ForeignKey("entries.seq"), nullable=False),
        sa.Column("recorded_by", sa.String(100), nullable=False),
        _when("recorded_at"),
        sa.UniqueConstraint("venue", "ref", name="uq_mining_sales_venue_ref"),
    )
    op.create_index("ix_mining_sales_operation_period", "mining_sales", ["operation", "period"])
    op.create_table(
        "purchase_orders",
        sa.Column("order_id", sa.String(40), primary_key=True),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("amount_usd", ExactDecimal, nullable=False),
        sa.Column("asset", sa.String(12), sa.ForeignKey("assets.code"), nullable=False),
        sa.Column("fund", sa.String(20), sa.ForeignKey("funds.code"), nullable=False),
        sa.Column("window_start", sa.Date, nullable=False),
        sa.Column("window_end", sa.Date, nullable=False),
        sa.Column("memo", sa.Text, nullable=False),
        sa.Column("proposer", sa.String(100), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("quorum", sa.Integer, nullable=False),
        sa.Column("policy_sha256", sa.String(64), nullable=False),
        _when("proposed_at"),
    )
    op.create_table(
        "purchase_fills",
        sa.Column("id", Seq, primary_key=True, autoincrement=False),
        sa.Column(
            "order_id", sa.String(40), sa.ForeignKey("purchase_orders.order_id"), nullable=False
        ),
        sa.Column("venue", sa.String(40), nullable=False),
        sa.Column("ref", sa.String(100), nullable=False),
        sa.Column("quantity", BaseUnits, nullable=False),
        sa.Column("price_usd", ExactDecimal, nullable=False),
        sa.Column("fee_usd", ExactDecimal, nullable=False),
        sa.Column("filled_on", sa.Date, nullable=False),
        sa.Column("kzt_per_usd", ExactDecimal, nullable=False),
        sa.Column("entry_seq", Seq, sa.ForeignKey("entries.seq"), nullable=False),
        sa.Column("recorded_by", sa.String(100), nullable=False),
        _when("recorded_at"),
        sa.UniqueConstraint("venue", "ref", name="uq_purchase_fills_venue_ref"),
    )
    op.create_index("ix_purchase_fills_order_id", "purchase_fills", ["order_id"])
    op.create_table(
        "purchase_closures",
        sa.Column(
            "order_id",
            sa.String(40),
            sa.ForeignKey("purchase_orders.order_id"),
            primary_key=True,
        ),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("closed_by", sa.String(100), nullable=False),
        _when("closed_at"),
    )
    for statement in append_only_sql(op.get_bind().dialect.name, APPEND_ONLY):
        op.execute(statement)


def downgrade() -> None:
    for statement in drop_append_only_sql(op.get_bind().dialect.name, APPEND_ONLY):
        op.execute(statement)
    for table in reversed(APPEND_ONLY):
        op.drop_table(table)
