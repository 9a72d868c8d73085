"""Market and valuation: loaded prices, daily fixes, valuation runs and lines, alerts.

Revision ID: 0006_market
Revises: 0005_custody
"""

from datetime import datetime

import sqlalchemy as sa
from alembic import op

from reserve.storage.triggers import append_only_sql, drop_append_only_sql
from reserve.storage.types import BaseUnits, ExactDecimal

revision = "0006_market"
down_revision = "0005_custody"
branch_labels = None
depends_on = None

APPEND_ONLY = ("market_prices", "daily_fixes", "valuation_runs", "valuation_lines", "alerts")
Seq = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _when(name: str) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "market_prices",
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("asset", sa.String(12), nullable=False),
        sa.Column("quote", sa.String(8), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("value", ExactDecimal, nullable=False),
        sa.Column("file_sha256", sa.String(64), nullable=False),
        _when("loaded_at"),
        sa.PrimaryKeyConstraint("source", "asset", "day"),
    )
    op.create_table(
        "daily_fixes",
        sa.Column("asset", sa.String(12), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("value", ExactDecimal, nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("used", sa.Text, nullable=False),
        sa.Column("dropped", sa.Text, nullable=False),
        sa.Column("inputs_sha256", sa.String(64), nullable=False),
        sa.Column("method_version", sa.String(40), nullable=False),
        sa.Column("carried_from", sa.Date, nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("created_by", sa.String(100), nullable=False),
        _when("created_at"),
        sa.PrimaryKeyConstraint("asset", "day", "version"),
    )
    op.create_table(
        "valuation_runs",
        sa.Column("id", Seq, primary_key=True, autoincrement=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("basis", sa.String(20), nullable=False),
        sa.Column("policy_sha256", sa.String(64), nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        _when("created_at"),
    )
    op.create_index("ix_valuation_runs_day", "valuation_runs", ["day"])
    op.create_table(
        "valuation_lines",
        sa.Column("run_id", Seq, sa.ForeignKey("valuation_runs.id"), nullable=False),
        sa.Column("fund", sa.String(20), nullable=True),
        sa.Column("asset", sa.String(12), nullable=False),
        sa.Column("account", sa.String(200), nullable=False),
        sa.Column("provenance", sa.String(40), nullable=False),
        sa.Column("units", BaseUnits, nullable=False),
        sa.Column("cost_usd", ExactDecimal, nullable=False),
        sa.Column("cost_kzt", ExactDecimal, nullable=False),
        sa.Column("fix", ExactDecimal, nullable=True),
        sa.Column("fix_status", sa.String(12), nullable=False),
        sa.Column("kzt_per_usd", ExactDecimal, nullable=True),
        sa.Column("fair_usd", ExactDecimal, nullable=True),
        sa.Column("fair_kzt", ExactDecimal, nullable=True),
        sa.Column("carrying_usd", ExactDecimal, nullable=True),
        sa.PrimaryKeyConstraint("run_id", "account", "asset", "provenance"),
    )
    op.create_table(
        "alerts",
        sa.Column("id", Seq, primary_key=True, autoincrement=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("subject", sa.String(100), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("value", sa.String(60), nullable=False),
        _when("raised_at"),
        sa.UniqueConstraint("day", "kind", "subject"),
    )
    for statement in append_only_sql(op.get_bind().dialect.name, APPEND_ONLY):
        op.execute(statement)


def downgrade() -> None:
    for statement in drop_append_only_sql(op.get_bind().dialect.name, APPEND_ONLY):
        op.execute(statement)
    for table in reversed(APPEND_ONLY):
        op.drop_table(table)
