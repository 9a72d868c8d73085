"""Transfer use cases: request, approve, build the PSBT, import signatures, finalize.

Every request is evaluated by the transfer policy in force with the sanctions lists of the day;
a request with violations is refused whole, naming each. Approvals follow the rule the policy
matched (the initiator never counts). A cold vault's PSBT is handed out for signing only after
the policy's time lock since the last approval. Each signed PSBT imported and the final
transaction are checked by ``custody.spend_check`` (embit and coincurve), which did not build
them, against the request as approved: the inputs are the vault's own known coins, the outputs
and fee are exactly those approved, the change goes back to the vault's change descriptor.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Final

from embit.base import EmbitError
from embit.script import Script, address_to_scriptpubkey

from reserve.adapters.price_files import latest_on_or_before
from reserve.adapters.sanctions_files import load_sanctions
from reserve.bootstrap import Reserve
from reserve.core.errors import Conflict, InvalidInput, NotFound, Problem
from reserve.custody.descriptors import embit_network
from reserve.custody.spend_check import (
    ApprovedSpend,
    Payment,
    SpentInput,
)
from reserve.custody.transfer_policy import DestinationKind, TransferFacts, evaluate
from reserve.custody.transfers import (
    EventKind,
    TransferEvent,
    TransferRequest,
    TransferStatus,
    request_problems,
    status_of,
)
from reserve.governance.approvals import Approval, ApprovalRule, request_hash
from reserve.governance.people import Role
from reserve.services.audit import record_now
from reserve.services.custody_policy import in_force
from reserve.services.custody_vaults import get_vault
from reserve.services.governance import approve_in, standing_approvals
from reserve.services.intake_context import require_role
from reserve.storage.custody_repo import Deposit, StoredTransfer, StoredVault
from reserve.storage.uow import UnitOfWork

REQUESTING_ROLES: Final = frozenset({Role.CUSTODIAN})
PRICE_MAX_AGE: Final = timedelta(days=3)
ENDED: Final = frozenset({TransferStatus.CANCELLED, TransferStatus.BLOCKED})


@dataclass(frozen=True)
class TransferView:
    stored: StoredTransfer
    status: TransferStatus
    approvals: list[Approval]
    approvers: tuple[str, ...]
    needed: int  # approvals still missing
    signing_opens_at: datetime | None
    events: list[TransferEvent]

    @property
    def request(self) -> TransferRequest:
        return self.stored.request

    def event(self, kind: EventKind) -> TransferEvent | None:
        found = [e for e in self.events if e.kind == kind]
        return found[-1] if found else None


def subject_of(transfer_id: str) -> str:
    return f"transfer:{transfer_id}"


def rule_of(stored: StoredTransfer) -> ApprovalRule:
    demand = stored.evaluation.get("approvals")
    if not demand:
        return ApprovalRule(f"transfer-policy:{stored.evaluation['rule']}", frozenset(), 0)
    roles = frozenset(Role(r) for r in demand["roles"])
    return ApprovalRule(f"transfer-policy:{stored.evaluation['rule']}", roles, demand["count"])


# -- request and approval -------------------------------------------------------------------
def request_transfer(reserve: Reserve, request: TransferRequest, *, actor: str) -> TransferView:
    """Evaluate and store a request; one with any policy violation is refused, naming each."""
    where = f"transfer {request.transfer_id}"
    problems = request_problems(request)
    with reserve.writing() as uow:
        user = require_role(uow, actor, REQUESTING_ROLES, "requesting a transfer")
        vault = get_vault(uow, request.vault)
        if request.asset != vault.spec.asset:
            problems.append(
                Problem(where, "asset", f"vault {vault.spec.name} holds {vault.spec.asset}")
            )
        problems += _destination_problems(request, vault, where)
        if problems:
            raise InvalidInput(problems)
        earlier = uow.custody.transfer(request.transfer_id)
        if earlier is not None:
            if earlier.request == request:
                return view_in(uow, reserve, earlier)
            raise Conflict.one(where, "transfer_id", "is already requested with other details")
        policies = in_force(uow)
        now = reserve.clock()
        decimals = uow.ledger.assets()[request.asset].decimals
        amount_usd, priced_by = _usd_value(
            uow, reserve, request.asset, request.amount, now, decimals=decimals
        )
        facts = TransferFacts(
            initiator=actor,
            initiator_roles=frozenset(r.value for r in user.roles) if user else frozenset(),
            source_vault=vault.spec.name,
            source_tier=vault.spec.tier.value,
            asset=request.asset,
            amount=request.amount,
            amount_usd=amount_usd,
            velocity_usd_24h=_velocity(uow, reserve, vault.spec.name, now),
            destination=request.destination,
            destination_kind=DestinationKind(request.destination_kind),
            incoming_sources=tuple(
                sorted({s for d in unspent_deposits(uow, vault.spec.name) for s in d.sources})
            ),
            legal_hold=vault.account.startswith("Assets:Custody:"),
            outbound=True,
            now=now,
        )
        sanctions = load_sanctions(reserve.settings.data_dir / "sanctions")
        evaluation = evaluate(
            policies.rules, policies.rules_sha256, policies.whitelist, sanctions, facts
        )
        if not evaluation.allowed:
            raise InvalidInput(
                [Problem(where, f"policy:{v.code}", v.detail) for v in evaluation.violations]
            )
        stored = StoredTransfer(
            request,
            request_hash(request.canonical()),
            amount_usd,
            {
                **evaluation.to_json(),
                "whitelist_sha256": policies.whitelist_sha256,
                "usd_priced_by": priced_by,
            },
            actor,
            now,
        )
        uow.custody.add_transfer(stored)
        record_now(
            uow,
            reserve,
            actor,
            "custody.transfer.request",
            subject_of(request.transfer_id),
            {
                **request.canonical(),
                "request_hash": stored.request_hash,
                "rule": str(evaluation.rule),
                "policy_sha256": evaluation.policy_sha256,
                "sanctions_sha256": evaluation.sanctions_sha256,
            },
        )
        uow.commit()
        return view_in(uow, reserve, stored, committed=True)


def _destination_problems(
    request: TransferRequest, vault: StoredVault, where: str
) -> list[Problem]:
    """The destination must be an address of the vault's own network: embit reads base58
    addresses of any network, so the script is turned back into an address and compared."""
    network = embit_network(vault.spec.network)
    try:
        script = address_to_scriptpubkey(request.destination)
        spelled = str(Script(script.data).address(network))
    except (ValueError, TypeError, KeyError, EmbitError) as bad:
        return [Problem(where, "destination", f"{request.destination!r} is not an address ({bad})")]
    given = request.destination
    if spelled != (given.lower() if given.lower().startswith(network["bech32"]) else given):
        return [
            Problem(
                where,
                "destination",
                f"{given} is not an address of the {vault.spec.network} network",
            )
        ]
    return []


def _usd_value(
    uow: UnitOfWork, reserve: Reserve, asset: str, amount: int, now: datetime, *, decimals: int
) -> tuple[Decimal | None, str]:
    """The request's USD value and what priced it: the newest published daily fix of the last
    few days (``reserve market fix``), else the bundled close of the asset; None when neither
    is recent enough, so rules on USD refuse rather than guess."""
    for back in range(PRICE_MAX_AGE.days + 1):
        day = now.date() - timedelta(days=back)
        fix = uow.market.fix(asset, day)
        if fix is not None:
            value = Decimal(amount).scaleb(-decimals) * fix.value
            return value.quantize(Decimal("0.01")), f"fix {day} v{fix.version} {fix.status}"
    path = reserve.settings.data_dir / "prices" / f"{asset.lower()}_usd.csv"
    if not path.exists():
        return None, "no price"
    found = latest_on_or_before(path, "close_usd", now.date())
    if found is None or now.date() - found[0] > PRICE_MAX_AGE:
        return None, "no price"
    value = Decimal(amount).scaleb(-decimals) * found[1]
    return value.quantize(Decimal("0.01")), f"bundled close {found[0]}"


def _velocity(uow: UnitOfWork, reserve: Reserve, vault: str, now: datetime) -> Decimal:
    """USD requested from the vault in the trailing 24 hours by transfers still alive."""
    total = Decimal(0)
    for stored in uow.custody.transfers(vault):
        if now - stored.requested_at > timedelta(hours=24) or stored.amount_usd is None:
            continue
        if view_in(uow, reserve, stored).status not in ENDED:
            total += stored.amount_usd
    return total


def approve_transfer(reserve: Reserve, transfer_id: str, *, actor: str) -> TransferView:
    """Record ``actor``'s approval of the request exactly as stored, under the matched rule."""
    with reserve.writing() as uow:
        stored = _stored(uow, transfer_id)
        current = view_in(uow, reserve, stored)
        if current.status not in (TransferStatus.PENDING, TransferStatus.APPROVED):
            raise InvalidInput.one(
                subject_of(transfer_id), "status", f"is {current.status}: nothing to approve"
            )
        rule = rule_of(stored)
        if rule.quorum == 0:
            raise InvalidInput.one(
                subject_of(transfer_id), "approvals", "the policy's rule needs no approval"
            )
        approve_in(
            uow,
            reserve,
            subject=subject_of(transfer_id),
            request=stored.request.canonical(),
            approver=actor,
            rule=rule,
            proposer=stored.initiator,
        )
        uow.commit()
        return view_in(uow, reserve, stored)


# -- views ----------------------------------------------------------------------------------
def view_in(
    uow: UnitOfWork, reserve: Reserve, stored: StoredTransfer, *, committed: bool = False
) -> TransferView:
    rule = rule_of(stored)
    subject = subject_of(stored.request.transfer_id)
    standing = standing_approvals(
        uow,
        subject=subject,
        request=stored.request.canonical(),
        stored_hash=stored.request_hash,
        rule=rule,
        proposer=stored.initiator,
        what="request",
    )
    approvers = tuple(sorted(standing.approvers))
    needed = (
        0
        if rule.quorum == 0
        else max(0, rule.quorum - _counting(standing.approvals, stored, rule, uow))
    )
    if standing.problems and needed == 0 and rule.quorum:
        needed = 1  # an altered request or a deactivated approver: approvals no longer stand
    events = uow.custody.events([stored.request.transfer_id])
    status = status_of(
        blocked=not stored.evaluation.get("allowed", False), approvals_missing=needed, events=events
    )
    opens = None
    if needed == 0:
        last = max(
            (a.approved_at for a in standing.approvals if a.approver in approvers),
            default=stored.requested_at,
        )
        opens = last + timedelta(seconds=int(stored.evaluation.get("timelock_seconds", 0)))
    return TransferView(stored, status, standing.approvals, approvers, needed, opens, events)


def _counting(
    approvals: list[Approval], stored: StoredTransfer, rule: ApprovalRule, uow: UnitOfWork
) -> int:
    users = uow.governance.users(a.approver for a in approvals)
    return len(
        {
            a.approver
            for a in approvals
            if a.request_hash == stored.request_hash
            and a.approver != stored.initiator
            and a.approver in users
            and users[a.approver].active
            and users[a.approver].holds_any(rule.roles)
        }
    )


def show_transfer(reserve: Reserve, transfer_id: str) -> TransferView:
    with reserve.reading() as uow:
        return view_in(uow, reserve, _stored(uow, transfer_id))


def list_transfers(reserve: Reserve, vault: str | None = None) -> list[TransferView]:
    with reserve.reading() as uow:
        return [view_in(uow, reserve, s) for s in uow.custody.transfers(vault)]


def _stored(uow: UnitOfWork, transfer_id: str) -> StoredTransfer:
    stored = uow.custody.transfer(transfer_id)
    if stored is None:
        raise NotFound.one(subject_of(transfer_id), "transfer_id", "no such transfer")
    return stored


# -- coins ----------------------------------------------------------------------------------
def unspent_deposits(uow: UnitOfWork, vault: str) -> list[Deposit]:
    """The vault's known coins not taken by a built transfer that was not cancelled."""
    taken: set[str] = set()
    events = uow.custody.events()
    cancelled = {e.transfer_id for e in events if e.kind == EventKind.CANCELLED}
    for event in events:
        if event.kind == EventKind.BUILT and event.transfer_id not in cancelled:
            taken |= {f"{i['txid']}:{i['vout']}" for i in event.payload["inputs"]}
    return [d for d in uow.custody.deposits(vault) if d.outpoint not in taken]


def approved_spend(view: TransferView, vault: StoredVault) -> ApprovedSpend:
    """The spend the approvals cover, with the inputs the coordinator chose from known coins."""
    built = view.event(EventKind.BUILT)
    assert built is not None
    inputs = tuple(
        SpentInput(i["txid"], int(i["vout"]), int(i["amount"]), bool(i["change"]), int(i["index"]))
        for i in built.payload["inputs"]
    )
    request = view.request
    payment = Payment(bytes(address_to_scriptpubkey(request.destination).data), request.amount)
    change = sum(i.amount for i in inputs) - request.amount - request.fee
    return ApprovedSpend(inputs, (payment,), request.fee, change)
