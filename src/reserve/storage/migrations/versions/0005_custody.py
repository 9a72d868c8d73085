"""Custody: key holders, keys, vaults, addresses, deposits, policies, transfers, breaks.

Revision ID: 0005_custody
Revises: 0004_mining_purchases
"""

from datetime import datetime

import sqlalchemy as sa
from alembic import op

from reserve.storage.triggers import append_only_sql, drop_append_only_sql
from reserve.storage.types import BaseUnits, ExactDecimal

revision = "0005_custody"
down_revision = "0004_mining_purchases"
branch_labels = None
depends_on = None

APPEND_ONLY = (
    "custody_key_holders",
    "custody_keys",
    "custody_vaults",
    "custody_addresses",
    "custody_deposits",
    "custody_policy_versions",
    "custody_policy_activations",
    "custody_transfers",
    "custody_transfer_events",
    "custody_breaks",
    "custody_break_closures",
)
Seq = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _when(name: str) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def _by(name: str) -> sa.Column[str]:
    return sa.Column(name, sa.String(100), nullable=False)


def upgrade() -> None:
    op.create_table(
        "custody_key_holders",
        sa.Column("holder", sa.String(40), sa.ForeignKey("users.username"), primary_key=True),
        sa.Column("unit", sa.String(16), nullable=False),
        sa.Column("site", sa.String(40), nullable=False),
        _by("recorded_by"),
        _when("recorded_at"),
    )
    op.create_table(
        "custody_keys",
        sa.Column("key_id", sa.String(40), primary_key=True),
        sa.Column(
            "holder", sa.String(40), sa.ForeignKey("custody_key_holders.holder"), nullable=False
        ),
        sa.Column("fingerprint", sa.String(8), nullable=False),
        sa.Column("path", sa.String(100), nullable=False),
        sa.Column("xpub", sa.String(200), nullable=False, unique=True),
        _by("recorded_by"),
        _when("recorded_at"),
    )
    op.create_table(
        "custody_vaults",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("fund", sa.String(20), sa.ForeignKey("funds.code"), nullable=False),
        sa.Column("asset", sa.String(12), sa.ForeignKey("assets.code"), nullable=False),
        sa.Column("tier", sa.String(8), nullable=False),
        sa.Column("network", sa.String(10), nullable=False),
        sa.Column("threshold", sa.Integer, nullable=False),
        sa.Column("key_ids", sa.Text, nullable=False),
        sa.Column(
            "recovery_key", sa.String(40), sa.ForeignKey("custody_keys.key_id"), nullable=True
        ),
        sa.Column("recovery_blocks", sa.Integer, nullable=True),
        sa.Column("external", sa.Text, nullable=False),
        sa.Column("internal", sa.Text, nullable=False),
        sa.Column("account", sa.String(200), nullable=False),
        _by("created_by"),
        _when("created_at"),
    )
    op.create_table(
        "custody_addresses",
        sa.Column("vault", sa.String(40), sa.ForeignKey("custody_vaults.name"), nullable=False),
        sa.Column("change", sa.Boolean, nullable=False),
        sa.Column("idx", sa.Integer, nullable=False),
        sa.Column("address", sa.String(100), nullable=False, unique=True),
        sa.Column("script_hex", sa.String(200), nullable=False),
        sa.Column("purpose", sa.Text, nullable=False),
        _by("issued_by"),
        _when("issued_at"),
        sa.PrimaryKeyConstraint("vault", "change", "idx"),
    )
    op.create_table(
        "custody_deposits",
        sa.Column("id", Seq, primary_key=True, autoincrement=False),
        sa.Column("vault", sa.String(40), sa.ForeignKey("custody_vaults.name"), nullable=False),
        sa.Column("txid", sa.String(64), nullable=False),
        sa.Column("vout", sa.Integer, nullable=False),
        sa.Column("amount", BaseUnits, nullable=False),
        sa.Column("change", sa.Boolean, nullable=False),
        sa.Column("idx", sa.Integer, nullable=False),
        sa.Column("raw_tx", sa.Text, nullable=False),
        sa.Column("sources", sa.Text, nullable=False),
        _by("recorded_by"),
        _when("recorded_at"),
        sa.UniqueConstraint("txid", "vout"),
    )
    op.create_table(
        "custody_policy_versions",
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("version", sa.String(40), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        _by("proposed_by"),
        _when("proposed_at"),
        sa.PrimaryKeyConstraint("kind", "sha256"),
    )
    op.create_table(
        "custody_policy_activations",
        sa.Column("id", Seq, primary_key=True, autoincrement=False),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        _by("activated_by"),
        _when("activated_at"),
    )
    op.create_table(
        "custody_transfers",
        sa.Column("transfer_id", sa.String(40), primary_key=True),
        sa.Column("vault", sa.String(40), sa.ForeignKey("custody_vaults.name"), nullable=False),
        sa.Column("request", sa.Text, nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("amount_usd", ExactDecimal, nullable=True),
        sa.Column("evaluation", sa.Text, nullable=False),
        sa.Column("initiator", sa.String(40), nullable=False),
        _when("requested_at"),
    )
    op.create_table(
        "custody_transfer_events",
        sa.Column("id", Seq, primary_key=True, autoincrement=False),
        sa.Column(
            "transfer_id",
            sa.String(40),
            sa.ForeignKey("custody_transfers.transfer_id"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        _by("actor"),
        _when("at"),
    )
    op.create_index(
        "ix_custody_transfer_events_transfer_id", "custody_transfer_events", ["transfer_id"]
    )
    op.create_table(
        "custody_breaks",
        sa.Column("id", Seq, primary_key=True, autoincrement=False),
        sa.Column("vault", sa.String(40), sa.ForeignKey("custody_vaults.name"), nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("chain_units", BaseUnits, nullable=False),
        sa.Column("ledger_units", BaseUnits, nullable=False),
        _by("found_by"),
        _when("found_at"),
    )
    op.create_table(
        "custody_break_closures",
        sa.Column("break_id", Seq, sa.ForeignKey("custody_breaks.id"), primary_key=True),
        sa.Column("reason", sa.Text, nullable=False),
        _by("closed_by"),
        _when("closed_at"),
    )
    for statement in append_only_sql(op.get_bind().dialect.name, APPEND_ONLY):
        op.execute(statement)


def downgrade() -> None:
    for statement in drop_append_only_sql(op.get_bind().dialect.name, APPEND_ONLY):
        op.execute(statement)
    for table in reversed(APPEND_ONLY):
        op.drop_table(table)
