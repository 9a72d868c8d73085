"""The ledger: assets, funds, accounts, the hash-chained journal, lots and projections.

Revision ID: 0001_ledger
Revises:
"""

import sqlalchemy as sa
from alembic import op

from reserve.storage.triggers import append_only_sql, drop_append_only_sql
from reserve.storage.types import BaseUnits, ExactDecimal

revision = "0001_ledger"
down_revision = None
branch_labels = None
depends_on = None

APPEND_ONLY = ("assets", "funds", "accounts", "entries", "postings", "lots")
STANDARD_ASSETS = (
    ("BTC", 8, "Bitcoin", True),
    ("ETH", 18, "Ether", True),
    ("BNB", 18, "BNB", True),
    ("USDT", 6, "Tether USD", True),
    ("USDC", 6, "USD Coin", True),
    ("SOL", 9, "Solana", True),
    ("TRX", 6, "Tron", True),
    ("KZTE", 6, "Tenge stablecoin (Solana SPL token)", True),
    ("USD", 2, "US dollar", False),
    ("KZT", 2, "Kazakhstani tenge", False),
)
STANDARD_FUNDS = (("SFDA", "State Fund of Digital Assets"), ("ALEM", "Alem Crypto Fund"))
Seq = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "assets",
        sa.Column("code", sa.String(12), primary_key=True),
        sa.Column("decimals", sa.Integer, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("tracks_lots", sa.Boolean, nullable=False),
    )
    op.create_table(
        "funds",
        sa.Column("code", sa.String(16), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
    )
    op.create_table(
        "accounts",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("fund", sa.String(16), sa.ForeignKey("funds.code"), nullable=True),
        sa.Column("opened_on", sa.Date, nullable=False),
    )
    op.create_table(
        "entries",
        sa.Column("seq", Seq, primary_key=True, autoincrement=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("date", sa.Date, nullable=False, index=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("memo", sa.Text, nullable=False),
        sa.Column("refs", sa.Text, nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=False, unique=True),
        sa.Column("reverses", Seq, sa.ForeignKey("entries.seq"), nullable=True, unique=True),
        sa.Column("content_digest", sa.String(64), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_table(
        "postings",
        sa.Column("entry_seq", Seq, sa.ForeignKey("entries.seq"), primary_key=True),
        sa.Column("line", sa.Integer, primary_key=True),
        sa.Column("leg", sa.Integer, primary_key=True),
        sa.Column("account", sa.String(200), sa.ForeignKey("accounts.name"), nullable=False),
        sa.Column("asset", sa.String(12), sa.ForeignKey("assets.code"), nullable=False),
        sa.Column("amount", BaseUnits, nullable=False),
        sa.Column("lot_id", sa.String(64), nullable=True),
        sa.Column("booking", sa.String(8), nullable=False),
    )
    op.create_index("ix_postings_account_asset", "postings", ["account", "asset"])
    op.create_table(
        "lots",
        sa.Column("lot_id", sa.String(64), primary_key=True),
        sa.Column("asset", sa.String(12), sa.ForeignKey("assets.code"), nullable=False),
        sa.Column("account", sa.String(200), sa.ForeignKey("accounts.name"), nullable=False),
        sa.Column("source_kind", sa.String(40), nullable=False),
        sa.Column("source_ref", sa.String(200), nullable=False),
        sa.Column("acquired_on", sa.Date, nullable=False),
        sa.Column("units", BaseUnits, nullable=False),
        sa.Column("cost_usd", ExactDecimal, nullable=False),
        sa.Column("cost_kzt", ExactDecimal, nullable=False),
        sa.Column("entry_seq", Seq, sa.ForeignKey("entries.seq"), nullable=False, index=True),
        sa.Column("position", sa.Integer, nullable=False),
    )
    op.create_table(
        "balances",
        sa.Column("account", sa.String(200), sa.ForeignKey("accounts.name"), primary_key=True),
        sa.Column("asset", sa.String(12), sa.ForeignKey("assets.code"), primary_key=True),
        sa.Column("amount", BaseUnits, nullable=False),
    )
    op.create_table(
        "lot_balances",
        sa.Column("account", sa.String(200), sa.ForeignKey("accounts.name"), primary_key=True),
        sa.Column("lot_id", sa.String(64), sa.ForeignKey("lots.lot_id"), primary_key=True),
        sa.Column("asset", sa.String(12), sa.ForeignKey("assets.code"), nullable=False),
        sa.Column("units", BaseUnits, nullable=False),
        sa.Column("arrival", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_lot_balances_account_asset", "lot_balances", ["account", "asset"])
    op.create_table(
        "chain_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("seq", Seq, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.execute(
        sa.text("INSERT INTO chain_head (id, seq, hash) VALUES (1, 0, :h)").bindparams(h="0" * 64)
    )
    assets = sa.table(
        "assets",
        sa.column("code", sa.String),
        sa.column("decimals", sa.Integer),
        sa.column("name", sa.String),
        sa.column("tracks_lots", sa.Boolean),
    )
    op.bulk_insert(
        assets,
        [
            {"code": code, "decimals": decimals, "name": name, "tracks_lots": lots}
            for code, decimals, name, lots in STANDARD_ASSETS
        ],
    )
    funds = sa.table("funds", sa.column("code", sa.String), sa.column("name", sa.String))
    op.bulk_insert(funds, [{"code": code, "name": name} for code, name in STANDARD_FUNDS])
    for statement in append_only_sql(op.get_bind().dialect.name, APPEND_ONLY):
        op.execute(statement)


def downgrade() -> None:
    for statement in drop_append_only_sql(op.get_bind().dialect.name, APPEND_ONLY):
        op.execute(statement)
    for table in (
        "chain_head",
        "lot_balances",
        "balances",
        "lots",
        "postings",
        "entries",
        "accounts",
        "funds",
        "assets",
    ):
        op.drop_table(table)
