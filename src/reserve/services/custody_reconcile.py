"""Reconciliation: does the chain hold, to the satoshi, what the ledger says each vault holds?

For every vault, the unspent outputs on its issued addresses (a chain source's view at its tip)
are summed and compared with the balance of the vault's ledger account. A difference is a break:
stored with both numbers and the height, and open until someone closes it with a reason. A break
is never closed by changing the numbers; the ledger is corrected by its own entries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from reserve.adapters.chain import ChainSource
from reserve.bootstrap import Reserve
from reserve.core.errors import Conflict, InvalidInput, NotFound
from reserve.governance.people import Role
from reserve.services.audit import record_now
from reserve.services.intake_context import require_role
from reserve.storage.custody_repo import Break

RECONCILING_ROLES: Final = frozenset({Role.CUSTODIAN, Role.AUDITOR, Role.ADMINISTRATOR})
CLOSING_ROLES: Final = frozenset({Role.CUSTODIAN, Role.ADMINISTRATOR})


@dataclass(frozen=True)
class VaultReconciliation:
    vault: str
    account: str
    height: int
    chain_units: int
    ledger_units: int
    break_id: int | None

    @property
    def difference(self) -> int:
        return self.chain_units - self.ledger_units


def reconcile(reserve: Reserve, chain: ChainSource, *, actor: str) -> list[VaultReconciliation]:
    """Compare every vault with the chain; each difference opens a break (all in one write)."""
    with reserve.writing() as uow:
        require_role(uow, actor, RECONCILING_ROLES, "reconciling custody")
        height = chain.tip_height()
        found: list[VaultReconciliation] = []
        for vault in uow.custody.vaults().values():
            scripts = [bytes.fromhex(a.script_hex) for a in uow.custody.addresses(vault.spec.name)]
            on_chain = sum(u.amount for u in chain.utxos(scripts)) if scripts else 0
            key = (vault.account, vault.spec.asset)
            in_ledger = uow.ledger.balances_of([key]).get(key, 0)
            break_id = None
            if on_chain != in_ledger:
                break_id = uow.custody.add_break(
                    Break(
                        0,
                        vault.spec.name,
                        height,
                        on_chain,
                        in_ledger,
                        actor,
                        reserve.clock(),
                        None,
                        None,
                    )
                )
                record_now(
                    uow,
                    reserve,
                    actor,
                    "custody.break",
                    f"vault {vault.spec.name}",
                    {
                        "height": str(height),
                        "chain": str(on_chain),
                        "ledger": str(in_ledger),
                        "break": str(break_id),
                    },
                )
            found.append(
                VaultReconciliation(
                    vault.spec.name, vault.account, height, on_chain, in_ledger, break_id
                )
            )
        record_now(
            uow,
            reserve,
            actor,
            "custody.reconcile",
            "custody",
            {
                "height": str(height),
                "vaults": str(len(found)),
                "breaks": str(sum(1 for f in found if f.break_id)),
            },
        )
        uow.commit()
    return found


def close_break(reserve: Reserve, break_id: int, reason: str, *, actor: str) -> Break:
    where = f"break {break_id}"
    with reserve.writing() as uow:
        require_role(uow, actor, CLOSING_ROLES, "closing a reconciliation break")
        found = {b.break_id: b for b in uow.custody.breaks()}.get(break_id)
        if found is None:
            raise NotFound.one(where, "break", "no such break")
        if found.closed_reason is not None:
            raise Conflict.one(where, "break", f"already closed: {found.closed_reason}")
        if len(reason.strip()) < 10:
            raise InvalidInput.one(where, "reason", "say why the difference is explained")
        uow.custody.close_break(break_id, reason, by=actor, at=reserve.clock())
        record_now(uow, reserve, actor, "custody.break.close", where, {"reason": reason})
        uow.commit()
    return found


def list_breaks(reserve: Reserve) -> list[Break]:
    with reserve.reading() as uow:
        return uow.custody.breaks()
