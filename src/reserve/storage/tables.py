"""The schema, as SQLAlchemy Core tables.

Journal tables (``entries``, ``postings``, ``lots``) and reference tables (``assets``, ``funds``,
``accounts``) are append-only: database triggers refuse UPDATE and DELETE on them. ``balances``,
``lot_balances`` and ``chain_head`` are projections kept in step with the journal inside the same
transaction; ``reserve ledger verify`` rebuilds them from the journal and compares.

Governance: ``org_units``, ``users`` and ``user_roles`` change (a user is deactivated, a role
granted), and every change is in ``audit_log``; ``approvals`` and ``audit_log`` are append-only,
and ``audit_head`` is the audit chain's head, as ``chain_head`` is the ledger's.

Intake: ``cases``, ``seized_assets``, ``legal_orders`` and ``legal_order_executions`` are
append-only. An order's execution is a row of its own rather than a status update, so the
order as approved stays exactly as it was stored.

Mining and purchases: operations, monthly outputs, sales, purchase orders, their fills and
closures are append-only too; a purchase order is closed (completed or cancelled) by a closure
row, and its approvals live with every other approval.

Custody: key holders, keys, vaults, issued addresses, deposits, policy versions and their
activations, transfer requests and their events, reconciliation breaks and their closures are
all append-only. A transfer's state is derived from its event rows (built, signed, finalized,
verified, broadcast, confirmed), so what was approved is never overwritten.

Market and valuation: loaded prices and rates, daily fixes (a correction is a new version with
its reason), valuation runs with their lines, and alerts are append-only. A later valuation run
of a day supersedes an earlier one for reading; both stay.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from reserve.storage.types import BaseUnits, ExactDecimal

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

Seq = BigInteger().with_variant(Integer(), "sqlite")

assets = Table(
    "assets",
    metadata,
    Column("code", String(12), primary_key=True),
    Column("decimals", Integer, nullable=False),
    Column("name", String(200), nullable=False),
    Column("tracks_lots", Boolean, nullable=False),
)

funds = Table(
    "funds",
    metadata,
    Column("code", String(16), primary_key=True),
    Column("name", String(200), nullable=False),
)

accounts = Table(
    "accounts",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("fund", String(16), ForeignKey("funds.code"), nullable=True),
    Column("opened_on", Date, nullable=False),
)

entries = Table(
    "entries",
    metadata,
    Column("seq", Seq, primary_key=True, autoincrement=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("date", Date, nullable=False, index=True),
    Column("kind", String(40), nullable=False),
    Column("memo", Text, nullable=False),
    Column("refs", Text, nullable=False),
    Column("actor", String(100), nullable=False),
    Column("idempotency_key", String(200), nullable=False, unique=True),
    Column("reverses", Seq, ForeignKey("entries.seq"), nullable=True, unique=True),
    Column("content_digest", String(64), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

postings = Table(
    "postings",
    metadata,
    Column("entry_seq", Seq, ForeignKey("entries.seq"), primary_key=True),
    Column("line", Integer, primary_key=True),
    Column("leg", Integer, primary_key=True),
    Column("account", String(200), ForeignKey("accounts.name"), nullable=False),
    Column("asset", String(12), ForeignKey("assets.code"), nullable=False),
    Column("amount", BaseUnits, nullable=False),
    Column("lot_id", String(64), nullable=True),
    Column("booking", String(8), nullable=False),
    Index("ix_postings_account_asset", "account", "asset"),
)

lots = Table(
    "lots",
    metadata,
    Column("lot_id", String(64), primary_key=True),
    Column("asset", String(12), ForeignKey("assets.code"), nullable=False),
    Column("account", String(200), ForeignKey("accounts.name"), nullable=False),
    Column("source_kind", String(40), nullable=False),
    Column("source_ref", String(200), nullable=False),
    Column("acquired_on", Date, nullable=False),
    Column("units", BaseUnits, nullable=False),
    Column("cost_usd", ExactDecimal, nullable=False),
    Column("cost_kzt", ExactDecimal, nullable=False),
    Column("entry_seq", Seq, ForeignKey("entries.seq"), nullable=False, index=True),
    Column("position", Integer, nullable=False),
)

balances = Table(
    "balances",
    metadata,
    Column("account", String(200), ForeignKey("accounts.name"), primary_key=True),
    Column("asset", String(12), ForeignKey("assets.code"), primary_key=True),
    Column("amount", BaseUnits, nullable=False),
)

lot_balances = Table(
    "lot_balances",
    metadata,
    Column("account", String(200), ForeignKey("accounts.name"), primary_key=True),
    Column("lot_id", String(64), ForeignKey("lots.lot_id"), primary_key=True),
    Column("asset", String(12), ForeignKey("assets.code"), nullable=False),
    Column("units", BaseUnits, nullable=False),
    Column("arrival", BigInteger, nullable=False),
    Index("ix_lot_balances_account_asset", "account", "asset"),
)

chain_head = Table(
    "chain_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", Seq, nullable=False),
    Column("hash", String(64), nullable=False),
)

org_units = Table(
    "org_units",
    metadata,
    Column("code", String(16), primary_key=True),
    Column("name", String(200), nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("username", String(40), primary_key=True),
    Column("full_name", String(200), nullable=False),
    Column("unit", String(16), ForeignKey("org_units.code"), nullable=False),
    Column("active", Boolean, nullable=False),
)

user_roles = Table(
    "user_roles",
    metadata,
    Column("username", String(40), ForeignKey("users.username"), primary_key=True),
    Column("role", String(32), primary_key=True),
)

approvals = Table(
    "approvals",
    metadata,
    Column("subject", String(200), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("approver", String(40), ForeignKey("users.username"), nullable=False),
    Column("approved_at", DateTime(timezone=True), nullable=False),
    Column("rule", String(100), nullable=False),
    PrimaryKeyConstraint("subject", "request_hash", "approver"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", Seq, primary_key=True, autoincrement=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("action", String(60), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("details", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", Seq, nullable=False),
    Column("hash", String(64), nullable=False),
)

cases = Table(
    "cases",
    metadata,
    Column("number", String(40), primary_key=True),
    Column("agency", String(200), nullable=False),
    Column("court", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("opened_on", Date, nullable=False),
    Column("opened_by", String(100), nullable=False),
)

seized_assets = Table(
    "seized_assets",
    metadata,
    Column("id", Seq, primary_key=True, autoincrement=False),
    Column("case_number", String(40), ForeignKey("cases.number"), nullable=False, index=True),
    Column("chain", String(40), nullable=False),
    Column("asset", String(12), ForeignKey("assets.code"), nullable=False),
    Column("amount", BaseUnits, nullable=False),
    Column("txid", String(66), nullable=False),
    Column("vout", Integer, nullable=True),
    Column("outpoint", String(80), nullable=False, unique=True),
    Column("source_address", String(200), nullable=False),
    Column("destination_address", String(200), nullable=False),
    Column("seized_at", DateTime(timezone=True), nullable=False),
    Column("entry_seq", Seq, ForeignKey("entries.seq"), nullable=False),
)

legal_orders = Table(
    "legal_orders",
    metadata,
    Column("id", Seq, primary_key=True, autoincrement=False),
    Column("case_number", String(40), ForeignKey("cases.number"), nullable=False, index=True),
    Column("asset", String(12), ForeignKey("assets.code"), nullable=False),
    Column("amount", BaseUnits, nullable=False),
    Column("from_state", String(32), nullable=False),
    Column("to_state", String(32), nullable=False),
    Column("reference", String(200), nullable=False),
    Column("issued_on", Date, nullable=False),
    Column("document_sha256", String(64), nullable=False),
    Column("proposer", String(100), nullable=False),
    Column("recipients", Text, nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("proposed_at", DateTime(timezone=True), nullable=False),
)

legal_order_executions = Table(
    "legal_order_executions",
    metadata,
    Column("order_id", Seq, ForeignKey("legal_orders.id"), primary_key=True),
    Column("executed_at", DateTime(timezone=True), nullable=False),
    Column("entry_seq", Seq, ForeignKey("entries.seq"), nullable=True),
)

mining_operations = Table(
    "mining_operations",
    metadata,
    Column("code", String(40), primary_key=True),
    Column("site", String(200), nullable=False),
    Column("operator", String(200), nullable=False),
    Column("tariff_kzt_per_mwh", ExactDecimal, nullable=False),
    Column("fund", String(20), ForeignKey("funds.code"), nullable=False),
    Column("asset", String(12), ForeignKey("assets.code"), nullable=False),
    Column("registered_by", String(100), nullable=False),
    Column("registered_at", DateTime(timezone=True), nullable=False),
)

mining_outputs = Table(
    "mining_outputs",
    metadata,
    Column("id", Seq, primary_key=True, autoincrement=False),
    Column("operation", String(40), ForeignKey("mining_operations.code"), nullable=False),
    Column("period", String(7), nullable=False),
    Column("amount", BaseUnits, nullable=False),
    Column("payout_txids", Text, nullable=False),
    Column("energy_mwh", ExactDecimal, nullable=False),
    Column("cost_kzt", ExactDecimal, nullable=False),
    Column("kzt_per_usd", ExactDecimal, nullable=False),
    Column("rule_from", Date, nullable=False),
    Column("sell_share", ExactDecimal, nullable=False),
    Column("to_sell", BaseUnits, nullable=False),
    Column("to_retain", BaseUnits, nullable=False),
    Column("cost_basis", String(20), nullable=False),
    Column("cost_usd", ExactDecimal, nullable=False),
    Column("fair_value_usd", ExactDecimal, nullable=True),
    Column("policy_sha256", String(64), nullable=False),
    Column("entry_seq", Seq, ForeignKey("entries.seq"), nullable=False),
    Column("recorded_by", String(100), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("operation", "period"),
)

mining_sales = Table(
    "mining_sales",
    metadata,
    Column("id", Seq, primary_key=True, autoincrement=False),
    Column("venue", String(40), nullable=False),
    Column("ref", String(100), nullable=False),
    Column("operation", String(40), ForeignKey("mining_operations.code"), nullable=False),
    Column("period", String(7), nullable=False),
    Column("quantity", BaseUnits, nullable=False),
    Column("price_usd", ExactDecimal, nullable=False),
    Column("fee_usd", ExactDecimal, nullable=False),
    Column("sold_on", Date, nullable=False),
    Column("cost_usd", ExactDecimal, nullable=False),
    Column("realised_usd", ExactDecimal, nullable=False),
    Column("policy_sha256", String(64), nullable=False),
    Column("entry_seq", Seq, ForeignKey("entries.seq"), nullable=False),
    Column("recorded_by", String(100), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("venue", "ref"),
    Index("ix_mining_sales_operation_period", "operation", "period"),
)

purchase_orders = Table(
    "purchase_orders",
    metadata,
    Column("order_id", String(40), primary_key=True),
    Column("source", String(20), nullable=False),
    Column("amount_usd", ExactDecimal, nullable=False),
    Column("asset", String(12), ForeignKey("assets.code"), nullable=False),
    Column("fund", String(20), ForeignKey("funds.code"), nullable=False),
    Column("window_start", Date, nullable=False),
    Column("window_end", Date, nullable=False),
    Column("memo", Text, nullable=False),
    Column("proposer", String(100), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("quorum", Integer, nullable=False),
    Column("policy_sha256", String(64), nullable=False),
    Column("proposed_at", DateTime(timezone=True), nullable=False),
)

purchase_fills = Table(
    "purchase_fills",
    metadata,
    Column("id", Seq, primary_key=True, autoincrement=False),
    Column("order_id", String(40), ForeignKey("purchase_orders.order_id"), nullable=False),
    Column("venue", String(40), nullable=False),
    Column("ref", String(100), nullable=False),
    Column("quantity", BaseUnits, nullable=False),
    Column("price_usd", ExactDecimal, nullable=False),
    Column("fee_usd", ExactDecimal, nullable=False),
    Column("filled_on", Date, nullable=False),
    Column("kzt_per_usd", ExactDecimal, nullable=False),
    Column("entry_seq", Seq, ForeignKey("entries.seq"), nullable=False),
    Column("recorded_by", String(100), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("venue", "ref"),
    Index("ix_purchase_fills_order_id", "order_id"),
)

purchase_closures = Table(
    "purchase_closures",
    metadata,
    Column("order_id", String(40), ForeignKey("purchase_orders.order_id"), primary_key=True),
    Column("status", String(20), nullable=False),
    Column("reason", Text, nullable=False),
    Column("closed_by", String(100), nullable=False),
    Column("closed_at", DateTime(timezone=True), nullable=False),
)

custody_key_holders = Table(
    "custody_key_holders",
    metadata,
    Column("holder", String(40), ForeignKey("users.username"), primary_key=True),
    Column("unit", String(16), nullable=False),
    Column("site", String(40), nullable=False),
    Column("recorded_by", String(100), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)

custody_keys = Table(
    "custody_keys",
    metadata,
    Column("key_id", String(40), primary_key=True),
    Column("holder", String(40), ForeignKey("custody_key_holders.holder"), nullable=False),
    Column("fingerprint", String(8), nullable=False),
    Column("path", String(100), nullable=False),
    Column("xpub", String(200), nullable=False, unique=True),
    Column("recorded_by", String(100), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)

custody_vaults = Table(
    "custody_vaults",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("fund", String(20), ForeignKey("funds.code"), nullable=False),
    Column("asset", String(12), ForeignKey("assets.code"), nullable=False),
    Column("tier", String(8), nullable=False),
    Column("network", String(10), nullable=False),
    Column("threshold", Integer, nullable=False),
    Column("key_ids", Text, nullable=False),
    Column("recovery_key", String(40), ForeignKey("custody_keys.key_id"), nullable=True),
    Column("recovery_blocks", Integer, nullable=True),
    Column("external", Text, nullable=False),
    Column("internal", Text, nullable=False),
    Column("account", String(200), nullable=False),
    Column("created_by", String(100), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

custody_addresses = Table(
    "custody_addresses",
    metadata,
    Column("vault", String(40), ForeignKey("custody_vaults.name"), nullable=False),
    Column("change", Boolean, nullable=False),
    Column("idx", Integer, nullable=False),
    Column("address", String(100), nullable=False, unique=True),
    Column("script_hex", String(200), nullable=False),
    Column("purpose", Text, nullable=False),
    Column("issued_by", String(100), nullable=False),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("vault", "change", "idx"),
)

custody_deposits = Table(
    "custody_deposits",
    metadata,
    Column("id", Seq, primary_key=True, autoincrement=False),
    Column("vault", String(40), ForeignKey("custody_vaults.name"), nullable=False),
    Column("txid", String(64), nullable=False),
    Column("vout", Integer, nullable=False),
    Column("amount", BaseUnits, nullable=False),
    Column("change", Boolean, nullable=False),
    Column("idx", Integer, nullable=False),
    Column("raw_tx", Text, nullable=False),
    Column("sources", Text, nullable=False),
    Column("recorded_by", String(100), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("txid", "vout"),
)

custody_policy_versions = Table(
    "custody_policy_versions",
    metadata,
    Column("kind", String(12), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("version", String(40), nullable=False),
    Column("text", Text, nullable=False),
    Column("proposed_by", String(100), nullable=False),
    Column("proposed_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("kind", "sha256"),
)

custody_policy_activations = Table(
    "custody_policy_activations",
    metadata,
    Column("id", Seq, primary_key=True, autoincrement=False),
    Column("kind", String(12), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("activated_by", String(100), nullable=False),
    Column("activated_at", DateTime(timezone=True), nullable=False),
)

custody_transfers = Table(
    "custody_transfers",
    metadata,
    Column("transfer_id", String(40), primary_key=True),
    Column("vault", String(40), ForeignKey("custody_vaults.name"), nullable=False),
    Column("request", Text, nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("amount_usd", ExactDecimal, nullable=True),
    Column("evaluation", Text, nullable=False),
    Column("initiator", String(40), nullable=False),
    Column("requested_at", DateTime(timezone=True), nullable=False),
)

custody_transfer_events = Table(
    "custody_transfer_events",
    metadata,
    Column("id", Seq, primary_key=True, autoincrement=False),
    Column("transfer_id", String(40), ForeignKey("custody_transfers.transfer_id"), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("payload", Text, nullable=False),
    Column("actor", String(100), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Index("ix_custody_transfer_events_transfer_id", "transfer_id"),
)

custody_breaks = Table(
    "custody_breaks",
    metadata,
    Column("id", Seq, primary_key=True, autoincrement=False),
    Column("vault", String(40), ForeignKey("custody_vaults.name"), nullable=False),
    Column("height", Integer, nullable=False),
    Column("chain_units", BaseUnits, nullable=False),
    Column("ledger_units", BaseUnits, nullable=False),
    Column("found_by", String(100), nullable=False),
    Column("found_at", DateTime(timezone=True), nullable=False),
)

custody_break_closures = Table(
    "custody_break_closures",
    metadata,
    Column("break_id", Seq, ForeignKey("custody_breaks.id"), primary_key=True),
    Column("reason", Text, nullable=False),
    Column("closed_by", String(100), nullable=False),
    Column("closed_at", DateTime(timezone=True), nullable=False),
)

market_prices = Table(
    "market_prices",
    metadata,
    Column("source", String(40), nullable=False),
    Column("asset", String(12), nullable=False),
    Column("quote", String(8), nullable=False),
    Column("day", Date, nullable=False),
    Column("value", ExactDecimal, nullable=False),
    Column("file_sha256", String(64), nullable=False),
    Column("loaded_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("source", "asset", "day"),
)

daily_fixes = Table(
    "daily_fixes",
    metadata,
    Column("asset", String(12), nullable=False),
    Column("day", Date, nullable=False),
    Column("version", Integer, nullable=False),
    Column("value", ExactDecimal, nullable=False),
    Column("status", String(12), nullable=False),
    Column("used", Text, nullable=False),
    Column("dropped", Text, nullable=False),
    Column("inputs_sha256", String(64), nullable=False),
    Column("method_version", String(40), nullable=False),
    Column("carried_from", Date, nullable=True),
    Column("reason", Text, nullable=True),
    Column("created_by", String(100), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("asset", "day", "version"),
)

valuation_runs = Table(
    "valuation_runs",
    metadata,
    Column("id", Seq, primary_key=True, autoincrement=False),
    Column("day", Date, nullable=False, index=True),
    Column("basis", String(20), nullable=False),
    Column("policy_sha256", String(64), nullable=False),
    Column("summary", Text, nullable=False),
    Column("created_by", String(100), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

valuation_lines = Table(
    "valuation_lines",
    metadata,
    Column("run_id", Seq, ForeignKey("valuation_runs.id"), nullable=False),
    Column("fund", String(20), nullable=True),
    Column("asset", String(12), nullable=False),
    Column("account", String(200), nullable=False),
    Column("provenance", String(40), nullable=False),
    Column("units", BaseUnits, nullable=False),
    Column("cost_usd", ExactDecimal, nullable=False),
    Column("cost_kzt", ExactDecimal, nullable=False),
    Column("fix", ExactDecimal, nullable=True),
    Column("fix_status", String(12), nullable=False),
    Column("kzt_per_usd", ExactDecimal, nullable=True),
    Column("fair_usd", ExactDecimal, nullable=True),
    Column("fair_kzt", ExactDecimal, nullable=True),
    Column("carrying_usd", ExactDecimal, nullable=True),
    PrimaryKeyConstraint("run_id", "account", "asset", "provenance"),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", Seq, primary_key=True, autoincrement=False),
    Column("day", Date, nullable=False),
    Column("kind", String(30), nullable=False),
    Column("subject", String(100), nullable=False),
    Column("detail", Text, nullable=False),
    Column("value", String(60), nullable=False),
    Column("raised_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("day", "kind", "subject"),
)

LEDGER_APPEND_ONLY: Final = ("assets", "funds", "accounts", "entries", "postings", "lots")
GOVERNANCE_APPEND_ONLY: Final = ("approvals", "audit_log")
INTAKE_APPEND_ONLY: Final = ("cases", "seized_assets", "legal_orders", "legal_order_executions")
MINING_PURCHASE_APPEND_ONLY: Final = (
    "mining_operations",
    "mining_outputs",
    "mining_sales",
    "purchase_orders",
    "purchase_fills",
    "purchase_closures",
)
CUSTODY_APPEND_ONLY: Final = (
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
MARKET_APPEND_ONLY: Final = (
    "market_prices",
    "daily_fixes",
    "valuation_runs",
    "valuation_lines",
    "alerts",
)
APPEND_ONLY: Final = (
    LEDGER_APPEND_ONLY
    + GOVERNANCE_APPEND_ONLY
    + INTAKE_APPEND_ONLY
    + MINING_PURCHASE_APPEND_ONLY
    + CUSTODY_APPEND_ONLY
    + MARKET_APPEND_ONLY
)
