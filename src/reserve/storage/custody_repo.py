"""Custody rows mapped to the custody domain's dataclasses; every table only grows.

Ids of numbered rows are taken by the writer, who holds the writer's lock (the audit head) for
the whole unit of work, so ``max + 1`` cannot race.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, func, insert, select
from sqlalchemy.engine import Connection

from reserve.core.clock import as_utc
from reserve.custody.keys import KeyHolder, VaultKey
from reserve.custody.transfers import EventKind, TransferEvent, TransferRequest
from reserve.custody.vaults import Recovery, Tier, VaultSpec
from reserve.storage import tables as t


@dataclass(frozen=True)
class StoredVault:
    spec: VaultSpec
    account: str
    created_by: str
    created_at: datetime


@dataclass(frozen=True)
class IssuedAddress:
    vault: str
    change: bool
    index: int
    address: str
    script_hex: str
    purpose: str
    issued_at: datetime


@dataclass(frozen=True)
class Deposit:
    vault: str
    txid: str
    vout: int
    amount: int
    change: bool
    index: int
    raw_tx: str
    sources: tuple[str, ...]
    recorded_at: datetime

    @property
    def outpoint(self) -> str:
        return f"{self.txid}:{self.vout}"


@dataclass(frozen=True)
class PolicyVersion:
    kind: str  # "rules" or "whitelist"
    sha256: str
    version: str
    text: str
    proposed_by: str
    proposed_at: datetime


@dataclass(frozen=True)
class StoredTransfer:
    request: TransferRequest
    request_hash: str
    amount_usd: Decimal | None
    evaluation: dict[str, Any]
    initiator: str
    requested_at: datetime


@dataclass(frozen=True)
class Break:
    break_id: int
    vault: str
    height: int
    chain_units: int
    ledger_units: int
    found_by: str
    found_at: datetime
    closed_reason: str | None
    closed_by: str | None


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


class CustodyStore:
    """Reads and writes of the custody tables inside the caller's transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def _next_id(self, table: Table) -> int:
        found = self.conn.execute(select(func.max(table.c.id))).scalar_one_or_none()
        return int(found or 0) + 1

    # -- key holders and keys ---------------------------------------------------------------
    def holders(self) -> dict[str, KeyHolder]:
        rows = self.conn.execute(select(t.custody_key_holders))
        return {r.holder: KeyHolder(r.holder, r.unit, r.site) for r in rows}

    def add_holder(self, holder: KeyHolder, *, by: str, at: datetime) -> None:
        row = {"holder": holder.holder, "unit": holder.unit, "site": holder.site}
        self.conn.execute(
            insert(t.custody_key_holders).values(**row, recorded_by=by, recorded_at=at)
        )

    def keys(self) -> dict[str, VaultKey]:
        rows = self.conn.execute(select(t.custody_keys).order_by(t.custody_keys.c.key_id))
        return {r.key_id: VaultKey(r.key_id, r.holder, r.fingerprint, r.path, r.xpub) for r in rows}

    def add_key(self, key: VaultKey, *, by: str, at: datetime) -> None:
        self.conn.execute(
            insert(t.custody_keys).values(
                key_id=key.key_id,
                holder=key.holder,
                fingerprint=key.fingerprint,
                path=key.path,
                xpub=key.xpub,
                recorded_by=by,
                recorded_at=at,
            )
        )

    # -- vaults -----------------------------------------------------------------------------
    def vaults(self) -> dict[str, StoredVault]:
        keys = self.keys()
        rows = self.conn.execute(select(t.custody_vaults).order_by(t.custody_vaults.c.name))
        return {r.name: self._vault(r, keys) for r in rows}

    def vault(self, name: str) -> StoredVault | None:
        row = self.conn.execute(
            select(t.custody_vaults).where(t.custody_vaults.c.name == name)
        ).first()
        return None if row is None else self._vault(row, self.keys())

    @staticmethod
    def _vault(row: Any, keys: dict[str, VaultKey]) -> StoredVault:
        recovery = None
        if row.recovery_key is not None:
            recovery = Recovery(keys[row.recovery_key], int(row.recovery_blocks))
        spec = VaultSpec(
            name=row.name,
            fund=row.fund,
            asset=row.asset,
            tier=Tier(row.tier),
            network=row.network,
            threshold=int(row.threshold),
            keys=tuple(keys[k] for k in json.loads(row.key_ids)),
            recovery=recovery,
        )
        return StoredVault(spec, row.account, row.created_by, as_utc(row.created_at))

    def add_vault(self, spec: VaultSpec, *, account: str, by: str, at: datetime) -> None:
        script = spec.script()
        self.conn.execute(
            insert(t.custody_vaults).values(
                name=spec.name,
                fund=spec.fund,
                asset=spec.asset,
                tier=spec.tier.value,
                network=spec.network,
                threshold=spec.threshold,
                key_ids=_json([k.key_id for k in spec.keys]),
                recovery_key=spec.recovery.key.key_id if spec.recovery else None,
                recovery_blocks=spec.recovery.after_blocks if spec.recovery else None,
                external=script.external,
                internal=script.internal,
                account=account,
                created_by=by,
                created_at=at,
            )
        )

    # -- addresses --------------------------------------------------------------------------
    def addresses(self, vault: str | None = None) -> list[IssuedAddress]:
        a = t.custody_addresses.c
        query = select(t.custody_addresses).order_by(a.vault, a.change, a.idx)
        if vault is not None:
            query = query.where(a.vault == vault)
        return [
            IssuedAddress(
                r.vault,
                bool(r.change),
                int(r.idx),
                r.address,
                r.script_hex,
                r.purpose,
                as_utc(r.issued_at),
            )
            for r in self.conn.execute(query)
        ]

    def next_index(self, vault: str, *, change: bool) -> int:
        a = t.custody_addresses.c
        query = select(func.max(a.idx)).where(a.vault == vault, a.change == change)
        found = self.conn.execute(query).scalar_one_or_none()
        return 0 if found is None else int(found) + 1

    def add_address(self, issued: IssuedAddress, *, by: str) -> None:
        self.conn.execute(
            insert(t.custody_addresses).values(
                vault=issued.vault,
                change=issued.change,
                idx=issued.index,
                address=issued.address,
                script_hex=issued.script_hex,
                purpose=issued.purpose,
                issued_by=by,
                issued_at=issued.issued_at,
            )
        )

    # -- deposits ---------------------------------------------------------------------------
    def deposits(self, vault: str | None = None) -> list[Deposit]:
        d = t.custody_deposits.c
        query = select(t.custody_deposits).order_by(d.id)
        if vault is not None:
            query = query.where(d.vault == vault)
        return [
            Deposit(
                r.vault,
                r.txid,
                int(r.vout),
                int(r.amount),
                bool(r.change),
                int(r.idx),
                r.raw_tx,
                tuple(json.loads(r.sources)),
                as_utc(r.recorded_at),
            )
            for r in self.conn.execute(query)
        ]

    def add_deposit(self, deposit: Deposit, *, by: str) -> None:
        self.conn.execute(
            insert(t.custody_deposits).values(
                id=self._next_id(t.custody_deposits),
                vault=deposit.vault,
                txid=deposit.txid,
                vout=deposit.vout,
                amount=deposit.amount,
                change=deposit.change,
                idx=deposit.index,
                raw_tx=deposit.raw_tx,
                sources=_json(list(deposit.sources)),
                recorded_by=by,
                recorded_at=deposit.recorded_at,
            )
        )

    # -- policy versions --------------------------------------------------------------------
    def policy_version(self, kind: str, sha256: str) -> PolicyVersion | None:
        p = t.custody_policy_versions.c
        row = self.conn.execute(
            select(t.custody_policy_versions).where(p.kind == kind, p.sha256 == sha256)
        ).first()
        return None if row is None else _policy(row)

    def policy_versions(self, kind: str) -> list[PolicyVersion]:
        p = t.custody_policy_versions.c
        query = select(t.custody_policy_versions).where(p.kind == kind).order_by(p.proposed_at)
        return [_policy(r) for r in self.conn.execute(query)]

    def add_policy_version(self, version: PolicyVersion) -> None:
        self.conn.execute(
            insert(t.custody_policy_versions).values(
                kind=version.kind,
                sha256=version.sha256,
                version=version.version,
                text=version.text,
                proposed_by=version.proposed_by,
                proposed_at=version.proposed_at,
            )
        )

    def active_policy(self, kind: str) -> tuple[str, datetime] | None:
        a = t.custody_policy_activations.c
        query = (
            select(a.sha256, a.activated_at).where(a.kind == kind).order_by(a.id.desc()).limit(1)
        )
        row = self.conn.execute(query).first()
        return None if row is None else (row.sha256, as_utc(row.activated_at))

    def activate_policy(self, kind: str, sha256: str, *, by: str, at: datetime) -> None:
        self.conn.execute(
            insert(t.custody_policy_activations).values(
                id=self._next_id(t.custody_policy_activations),
                kind=kind,
                sha256=sha256,
                activated_by=by,
                activated_at=at,
            )
        )

    # -- transfers --------------------------------------------------------------------------
    def transfer(self, transfer_id: str) -> StoredTransfer | None:
        c = t.custody_transfers.c
        row = self.conn.execute(
            select(t.custody_transfers).where(c.transfer_id == transfer_id)
        ).first()
        return None if row is None else _transfer(row)

    def transfers(self, vault: str | None = None) -> list[StoredTransfer]:
        c = t.custody_transfers.c
        query = select(t.custody_transfers).order_by(c.requested_at, c.transfer_id)
        if vault is not None:
            query = query.where(c.vault == vault)
        return [_transfer(r) for r in self.conn.execute(query)]

    def add_transfer(self, stored: StoredTransfer) -> None:
        self.conn.execute(
            insert(t.custody_transfers).values(
                transfer_id=stored.request.transfer_id,
                vault=stored.request.vault,
                request=_json(stored.request.canonical()),
                request_hash=stored.request_hash,
                amount_usd=stored.amount_usd,
                evaluation=_json(stored.evaluation),
                initiator=stored.initiator,
                requested_at=stored.requested_at,
            )
        )

    def events(self, transfer_ids: Sequence[str] | None = None) -> list[TransferEvent]:
        e = t.custody_transfer_events.c
        query = select(t.custody_transfer_events).order_by(e.id)
        if transfer_ids is not None:
            query = query.where(e.transfer_id.in_(list(transfer_ids)))
        return [
            TransferEvent(
                r.transfer_id, EventKind(r.kind), json.loads(r.payload), r.actor, as_utc(r.at)
            )
            for r in self.conn.execute(query)
        ]

    def add_event(self, event: TransferEvent) -> None:
        self.conn.execute(
            insert(t.custody_transfer_events).values(
                id=self._next_id(t.custody_transfer_events),
                transfer_id=event.transfer_id,
                kind=event.kind.value,
                payload=_json(event.payload),
                actor=event.actor,
                at=event.at,
            )
        )

    # -- reconciliation breaks --------------------------------------------------------------
    def breaks(self) -> list[Break]:
        b, c = t.custody_breaks.c, t.custody_break_closures.c
        query = (
            select(t.custody_breaks, c.reason, c.closed_by)
            .outerjoin(t.custody_break_closures, c.break_id == b.id)
            .order_by(b.id)
        )
        return [
            Break(
                int(r.id),
                r.vault,
                int(r.height),
                int(r.chain_units),
                int(r.ledger_units),
                r.found_by,
                as_utc(r.found_at),
                r.reason,
                r.closed_by,
            )
            for r in self.conn.execute(query)
        ]

    def add_break(self, found: Break) -> int:
        break_id = self._next_id(t.custody_breaks)
        self.conn.execute(
            insert(t.custody_breaks).values(
                id=break_id,
                vault=found.vault,
                height=found.height,
                chain_units=found.chain_units,
                ledger_units=found.ledger_units,
                found_by=found.found_by,
                found_at=found.found_at,
            )
        )
        return break_id

    def close_break(self, break_id: int, reason: str, *, by: str, at: datetime) -> None:
        self.conn.execute(
            insert(t.custody_break_closures).values(
                break_id=break_id, reason=reason, closed_by=by, closed_at=at
            )
        )


def _policy(row: Any) -> PolicyVersion:
    return PolicyVersion(
        row.kind, row.sha256, row.version, row.text, row.proposed_by, as_utc(row.proposed_at)
    )


def _transfer(row: Any) -> StoredTransfer:
    return StoredTransfer(
        TransferRequest.from_canonical(json.loads(row.request)),
        row.request_hash,
        row.amount_usd,
        json.loads(row.evaluation),
        row.initiator,
        as_utc(row.requested_at),
    )
