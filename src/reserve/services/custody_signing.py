"""From an approved request to a confirmed, booked transaction.

``build`` asks bdkpython for the unsigned PSBT (the vault's oldest free coins, change to a fresh
change address); ``import_signed`` takes one key holder's signed copy; ``finalize`` combines the
copies, lets bdkpython finalize, and has ``spend_check`` verify the result before it is kept;
``broadcast`` checks it once more and hands it to a chain source; ``confirm`` books it in the
ledger once the chain has buried it deep enough: the lots move to the destination's account and
the fee, taken from the coins moved, to ``Expenses:Fees:Network``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from embit.transaction import Transaction

from reserve.adapters.bdk_vault import combine, finalize
from reserve.adapters.chain import ChainSource
from reserve.bootstrap import Reserve
from reserve.core.errors import InvalidInput, Problem
from reserve.custody.spend_check import check_psbt, check_transaction, parse_psbt
from reserve.custody.transfers import NETWORK_FEES, EventKind, TransferEvent, TransferStatus
from reserve.ledger.accounts import Account
from reserve.ledger.model import EntryDraft, PostingDraft
from reserve.services.audit import record_now
from reserve.services.custody_transfers import (
    REQUESTING_ROLES,
    TransferView,
    _stored,
    approved_spend,
    subject_of,
    unspent_deposits,
    view_in,
)
from reserve.services.custody_vaults import (
    CUSTODY_ROLES,
    deposit_in,
    get_vault,
    issue_in,
    open_wallet,
)
from reserve.services.intake_context import ensure_accounts, require_role
from reserve.services.ledger import post_in
from reserve.storage.custody_repo import StoredVault
from reserve.storage.uow import UnitOfWork


def _refuse(view: TransferView, *allowed: TransferStatus) -> None:
    if view.status not in allowed:
        wanted = " or ".join(allowed)
        raise InvalidInput.one(
            subject_of(view.request.transfer_id),
            "status",
            f"is {view.status}; this step needs {wanted}",
        )


def _event(
    uow: UnitOfWork,
    reserve: Reserve,
    view: TransferView,
    kind: EventKind,
    payload: dict[str, object],
    actor: str,
) -> None:
    transfer_id = view.request.transfer_id
    uow.custody.add_event(TransferEvent(transfer_id, kind, payload, actor, reserve.clock()))
    details = {k: str(v) for k, v in payload.items() if k not in ("psbt", "raw_tx", "inputs")}
    record_now(
        uow, reserve, actor, f"custody.transfer.{kind.value}", subject_of(transfer_id), details
    )


def build_transfer(reserve: Reserve, transfer_id: str, *, actor: str) -> str:
    """The unsigned PSBT of an approved transfer, once the vault's time lock has run out."""
    with reserve.writing() as uow:
        require_role(uow, actor, CUSTODY_ROLES, "building a transfer")
        view = view_in(uow, reserve, _stored(uow, transfer_id))
        _refuse(view, TransferStatus.APPROVED)
        where = subject_of(transfer_id)
        now = reserve.clock()
        if view.signing_opens_at is not None and now < view.signing_opens_at:
            raise InvalidInput.one(
                where, "time lock", f"signing opens at {view.signing_opens_at.isoformat()}"
            )
        vault = get_vault(uow, view.request.vault)
        coins, needed, total = [], view.request.amount + view.request.fee, 0
        for coin in unspent_deposits(uow, vault.spec.name):
            if total >= needed:
                break
            coins.append(coin)
            total += coin.amount
        if total < needed:
            raise InvalidInput.one(
                where, "amount", f"the vault's free coins hold {total}, the transfer needs {needed}"
            )
        change = issue_in(uow, reserve, vault, f"change of {transfer_id}", change=True, actor=actor)
        wallet = open_wallet(reserve, vault, uow.custody.deposits(vault.spec.name))
        payment = approved_payment(view)
        built = wallet.build_spend(
            inputs=[(c.txid, c.vout) for c in coins],
            payments=[payment],
            fee=view.request.fee,
            change_index=change.index,
        )
        by_outpoint = {(c.txid, c.vout): c for c in coins}
        inputs = [by_outpoint[i] for i in built.inputs]
        payload: dict[str, object] = {
            "psbt": built.psbt,
            "inputs": [
                {
                    "txid": c.txid,
                    "vout": c.vout,
                    "amount": c.amount,
                    "change": c.change,
                    "index": c.index,
                }
                for c in inputs
            ],
            "change_index": built.change_index,
            "change_amount": built.change_amount,
        }
        _event(uow, reserve, view, EventKind.BUILT, payload, actor)
        built_view = view_in(uow, reserve, view.stored)
        problems = _unsigned_problems(built_view, vault, built.psbt)
        if problems:  # the coordinator's own PSBT fails the independent check: keep nothing
            raise InvalidInput(problems)
        uow.commit()
    return built.psbt


def approved_payment(view: TransferView) -> tuple[bytes, int]:
    from embit.script import address_to_scriptpubkey

    script = bytes(address_to_scriptpubkey(view.request.destination).data)
    return script, view.request.amount


def _unsigned_problems(view: TransferView, vault: StoredVault, psbt: str) -> list[Problem]:
    check = check_psbt(psbt, vault.spec.script(), approved_spend(view, vault))
    return list(check.problems)


def import_signed(
    reserve: Reserve, transfer_id: str, psbts: Sequence[str], *, actor: str
) -> list[tuple[str, ...]]:
    """Keep key holders' signed copies, each checked against the approved spend, all or none;
    returns, per copy, the public keys whose signatures in it verified."""
    where = subject_of(transfer_id)
    if not psbts:
        raise InvalidInput.one(where, "psbt", "give at least one signed PSBT")
    found: list[tuple[str, ...]] = []
    with reserve.writing() as uow:
        require_role(uow, actor, CUSTODY_ROLES, "importing signatures")
        stored = _stored(uow, transfer_id)
        for number, psbt in enumerate(psbts, start=1):
            view = view_in(uow, reserve, stored)
            _refuse(view, TransferStatus.BUILT, TransferStatus.SIGNING)
            copy = f"{where} copy {number}" if len(psbts) > 1 else where
            built = view.event(EventKind.BUILT)
            assert built is not None
            if _unsigned_txid(psbt, copy) != _unsigned_txid(str(built.payload["psbt"]), copy):
                raise InvalidInput.one(copy, "psbt", "is not the PSBT built for this transfer")
            vault = get_vault(uow, view.request.vault)
            check = check_psbt(psbt, vault.spec.script(), approved_spend(view, vault))
            if check.problems:
                raise InvalidInput(list(check.problems))
            signers = sorted({k for keys in check.signers.values() for k in keys})
            if not signers:
                raise InvalidInput.one(copy, "psbt", "carries no signature")
            _event(uow, reserve, view, EventKind.SIGNED, {"psbt": psbt, "signers": signers}, actor)
            found.append(tuple(signers))
        uow.commit()
    return found


def _unsigned_txid(psbt: str, where: str) -> str:
    try:
        return str(parse_psbt(psbt).tx.txid().hex())
    except InvalidInput as bad:
        raise InvalidInput.one(where, "psbt", bad.problems[0].reason) from None


def finalize_transfer(reserve: Reserve, transfer_id: str, *, actor: str) -> str:
    """Combine the signed copies, finalize, and verify the transaction; returns its txid."""
    with reserve.writing() as uow:
        require_role(uow, actor, CUSTODY_ROLES, "finalizing a transfer")
        view = view_in(uow, reserve, _stored(uow, transfer_id))
        _refuse(view, TransferStatus.SIGNING)
        where = subject_of(transfer_id)
        vault = get_vault(uow, view.request.vault)
        copies = [str(e.payload["psbt"]) for e in view.events if e.kind == EventKind.SIGNED]
        merged = combine(copies)
        approved = approved_spend(view, vault)
        check = check_psbt(merged, vault.spec.script(), approved)
        if check.problems or not check.complete:
            have = min((len(v) for v in check.signers.values()), default=0)
            problems = list(check.problems) or [
                Problem(
                    where,
                    "signatures",
                    f"{have} of the {vault.spec.threshold} signatures a spend needs",
                )
            ]
            raise InvalidInput(problems)
        raw = finalize(merged, where=where)
        problems = check_transaction(raw, vault.spec.script(), approved)
        if problems:
            raise InvalidInput(problems)
        txid = str(Transaction.parse(raw).txid().hex())
        _event(uow, reserve, view, EventKind.FINALIZED, {"raw_tx": raw.hex(), "txid": txid}, actor)
        _event(
            uow,
            reserve,
            view,
            EventKind.VERIFIED,
            {"txid": txid, "checked_by": "embit+coincurve"},
            actor,
        )
        uow.commit()
    return txid


def final_transaction(view: TransferView) -> bytes:
    final = view.event(EventKind.FINALIZED)
    assert final is not None
    return bytes.fromhex(str(final.payload["raw_tx"]))


def broadcast_transfer(
    reserve: Reserve, transfer_id: str, chain: ChainSource, *, actor: str
) -> str:
    """Check the verified transaction once more, then hand it to the chain."""
    with reserve.writing() as uow:
        require_role(uow, actor, CUSTODY_ROLES, "broadcasting a transfer")
        view = view_in(uow, reserve, _stored(uow, transfer_id))
        _refuse(view, TransferStatus.VERIFIED)
        vault = get_vault(uow, view.request.vault)
        raw = final_transaction(view)
        problems = check_transaction(raw, vault.spec.script(), approved_spend(view, vault))
        if problems:
            raise InvalidInput(problems)
        txid = str(chain.broadcast(raw))
        _event(uow, reserve, view, EventKind.BROADCAST, {"txid": txid}, actor)
        uow.commit()
    return txid


@dataclass(frozen=True)
class Confirmation:
    txid: str
    confirmations: int
    needed: int
    entry_seq: int | None  # the ledger entry, once booked


def confirm_transfer(
    reserve: Reserve, transfer_id: str, chain: ChainSource, *, actor: str
) -> Confirmation:
    """Book the transfer once the chain shows enough confirmations; until then, say how many."""
    needed = reserve.settings.custody_confirmations
    with reserve.writing() as uow:
        require_role(uow, actor, CUSTODY_ROLES, "confirming a transfer")
        view = view_in(uow, reserve, _stored(uow, transfer_id))
        _refuse(view, TransferStatus.BROADCAST)
        sent = view.event(EventKind.BROADCAST)
        assert sent is not None
        txid = str(sent.payload["txid"])
        status = chain.status(txid)
        if status.confirmations < needed:
            return Confirmation(txid, status.confirmations, needed, None)
        vault = get_vault(uow, view.request.vault)
        seq = _book(uow, reserve, view, vault, txid, actor=actor)
        raw = final_transaction(view)
        built = view.event(EventKind.BUILT)
        assert built is not None
        if built.payload.get("change_index") is not None:
            deposit_in(uow, reserve, vault, raw, (), actor=actor)
        _event(
            uow,
            reserve,
            view,
            EventKind.CONFIRMED,
            {
                "txid": txid,
                "height": status.block_height,
                "confirmations": status.confirmations,
                "entry_seq": seq,
            },
            actor,
        )
        uow.commit()
    return Confirmation(txid, status.confirmations, needed, seq)


def destination_account(uow: UnitOfWork, view: TransferView, vault: StoredVault) -> str:
    """Where the coins are booked: another vault's account when the address is one of its
    issued addresses; a court-named recipient's coins leave the fund; any other whitelisted
    address stays the fund's, at that external counterparty."""
    for address in uow.custody.addresses():
        if address.address == view.request.destination:
            other = get_vault(uow, address.vault)
            return other.account
    spec = vault.spec
    if view.request.destination_kind == "court":
        return f"Equity:Restitution:{spec.fund}"
    return f"Assets:Reserve:{spec.fund}:{spec.asset}:External:{view.request.destination[-12:]}"


def _book(
    uow: UnitOfWork,
    reserve: Reserve,
    view: TransferView,
    vault: StoredVault,
    txid: str,
    *,
    actor: str,
) -> int:
    request = view.request
    target = destination_account(uow, view, vault)
    today = reserve.clock().date()
    fund = vault.spec.fund
    ensure_accounts(
        uow,
        reserve,
        [Account(target, fund, today), Account(NETWORK_FEES, None, today)],
        actor=actor,
    )
    legs = (
        PostingDraft(vault.account, request.asset, -(request.amount + request.fee)),
        PostingDraft(target, request.asset, request.amount),
        PostingDraft(NETWORK_FEES, request.asset, request.fee),
    )
    draft = EntryDraft(
        f"custody:{request.transfer_id}",
        today,
        "transfer",
        request.memo,
        legs,
        {"transfer": request.transfer_id, "txid": txid, "vault": vault.spec.name},
    )
    posted = post_in(uow, reserve, [draft], actor=actor)
    return posted[0].seq


def cancel_transfer(reserve: Reserve, transfer_id: str, reason: str, *, actor: str) -> None:
    """Stop a transfer before it is broadcast; its coins are free again."""
    with reserve.writing() as uow:
        require_role(uow, actor, CUSTODY_ROLES | REQUESTING_ROLES, "cancelling a transfer")
        view = view_in(uow, reserve, _stored(uow, transfer_id))
        _refuse(
            view,
            TransferStatus.PENDING,
            TransferStatus.APPROVED,
            TransferStatus.BUILT,
            TransferStatus.SIGNING,
            TransferStatus.FINALIZED,
            TransferStatus.VERIFIED,
        )
        if not reason.strip():
            raise InvalidInput.one(subject_of(transfer_id), "reason", "say why")
        _event(uow, reserve, view, EventKind.CANCELLED, {"reason": reason}, actor)
        uow.commit()
