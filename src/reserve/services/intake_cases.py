"""Seizure-case use cases: open a case, record what was seized, carry out the court's orders.

Seized units are held for their case, not owned: a seizure books them into the case's own
custody account against the case's custody equity, in no fund, in the same unit of work as the
seizure record. They move only by a recorded order that two legal officers or administrators,
neither its proposer, approved, for exactly the order as stored (its request hash). Within custody
(restraint, forfeiture) an execution changes only the legal position; out of custody it is booked
in the same unit of work: to a fund as a new lot at the given fair value (transfer to the
reserve), or out of custody to named recipients (return, restitution). Sales are not supported
yet and are refused when proposed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Final

from reserve.bootstrap import Reserve
from reserve.core.errors import Conflict, InvalidInput, NotFound, Problem
from reserve.governance.approvals import (
    Approval,
    ApprovalRule,
    approval_problems,
    request_hash,
)
from reserve.governance.people import Role
from reserve.intake.cases import TXID, SeizedAsset, SeizureCase
from reserve.intake.custody_accounts import (
    CASE_NUMBER,
    CUSTODY_ROOT,
    case_of,
    custody_account,
    custody_equity,
)
from reserve.intake.legal import (
    LEAVES_CUSTODY,
    MIN_APPROVERS,
    LegalOrder,
    LegalPosition,
    LegalState,
    RecordedOrder,
    order_problems,
    order_request,
    position_of,
)
from reserve.ledger.accounts import Account
from reserve.ledger.model import EntryDraft, LotOpening, PostingDraft
from reserve.services.audit import acting_user, record_now
from reserve.services.governance import approve_in
from reserve.services.intake_context import ensure_accounts, require_role
from reserve.services.ledger import post_in
from reserve.storage.uow import UnitOfWork

LEGAL_TRANSITION: Final = ApprovalRule(
    "legal-transition", frozenset({Role.LEGAL_OFFICER, Role.ADMINISTRATOR}), quorum=MIN_APPROVERS
)
"""Two distinct approvers, legal officers or administrators, never the order's proposer."""
INTAKE_ROLES: Final = frozenset({Role.INTAKE_OFFICER, Role.ADMINISTRATOR})
PROPOSING_ROLES: Final = frozenset({Role.LEGAL_OFFICER})
EXECUTING_ROLES: Final = frozenset({Role.LEGAL_OFFICER, Role.ADMINISTRATOR})
NOT_YET_SUPPORTED: Final = frozenset({LegalState.INTERLOCUTORY_SOLD, LegalState.SOLD})
MAX_TEXT: Final = 200


def forfeiture_equity(fund: str) -> str:
    """The counterpart of forfeited units in a fund's book, so each fund's book balances."""
    return f"Equity:Forfeiture:{fund}"


def order_subject(order_id: int) -> str:
    """What approvals of an order name as their subject."""
    return f"legal-order:{order_id}"


@dataclass(frozen=True)
class SeizureRecorded:
    case: str
    outpoint: str
    entry_seq: int
    created: bool


@dataclass(frozen=True)
class OrderExecuted:
    order_id: int
    to_state: LegalState
    entry_seq: int | None  # None for a transition inside custody, which books nothing


@dataclass(frozen=True)
class PositionLine:
    """One asset of a case: units per legal state, and what the case's custody accounts hold."""

    case: str
    asset: str
    decimals: int
    units: Mapping[LegalState, int]
    custody_balance: int

    @property
    def in_custody(self) -> int:
        return LegalPosition(self.case, self.asset, self.units).in_custody


@dataclass(frozen=True)
class CaseView:
    case: SeizureCase
    seizures: list[SeizedAsset]
    orders: list[RecordedOrder]
    approvals: Mapping[int, list[Approval]]
    positions: list[PositionLine]


# -- cases and seizures ---------------------------------------------------------------------
def open_case(reserve: Reserve, case: SeizureCase, *, actor: str) -> SeizureCase:
    """Open a seizure case; opening the same case again is a no-op. Its custody accounts are
    opened with its first seizure of each asset."""
    with reserve.writing() as uow:
        if open_case_in(uow, reserve, case, actor=actor):
            uow.commit()
    return case


def open_case_in(uow: UnitOfWork, reserve: Reserve, case: SeizureCase, *, actor: str) -> bool:
    """``open_case`` inside the caller's unit of work; whether the case is new."""
    where = f"case {case.number}"
    problems = _case_problems(case, where)
    if problems:
        raise InvalidInput(problems)
    require_role(uow, actor, INTAKE_ROLES, "opening a case")
    earlier = uow.intake.case(case.number)
    if earlier == case:
        return False
    if earlier is not None:
        raise Conflict.one(where, "number", f"already open with other details ({earlier})")
    uow.intake.add_case(case, opened_by=actor)
    details = {
        "agency": case.agency,
        "court": case.court,
        "opened_on": case.opened_on.isoformat(),
    }
    record_now(uow, reserve, actor, "cases.open", where, details)
    return True


def _case_problems(case: SeizureCase, where: str) -> list[Problem]:
    problems: list[Problem] = []
    if not CASE_NUMBER.match(case.number):
        problems.append(
            Problem(where, "number", "must be 1-40 letters, digits and '-', e.g. 2024-001")
        )
    for name, value in (("agency", case.agency), ("court", case.court)):
        if not value.strip() or len(value) > MAX_TEXT:
            problems.append(Problem(where, name, f"must be 1 to {MAX_TEXT} characters"))
    return problems


def record_seizure(
    reserve: Reserve,
    asset: SeizedAsset,
    *,
    fair_value_usd: Decimal,
    fair_value_kzt: Decimal,
    actor: str,
) -> SeizureRecorded:
    """Record a seizure and book its units into the case's custody account, as one new lot
    (source ``seizure``, ref the outpoint) costed at the given fair value.

    Recording the same seizure again returns the first; an outpoint already recorded in
    another case, or with other details, is refused.
    """
    with reserve.writing() as uow:
        recorded = record_seizure_in(
            uow, reserve, asset, fair_value_usd=fair_value_usd, fair_value_kzt=fair_value_kzt,
            actor=actor,
        )  # fmt: skip
        if recorded.created:
            uow.commit()
    return recorded


def record_seizure_in(
    uow: UnitOfWork,
    reserve: Reserve,
    asset: SeizedAsset,
    *,
    fair_value_usd: Decimal,
    fair_value_kzt: Decimal,
    actor: str,
) -> SeizureRecorded:
    """``record_seizure`` inside the caller's unit of work."""
    where = f"seizure {asset.outpoint}"
    problems = _seizure_problems(asset, fair_value_usd, fair_value_kzt, where)
    require_role(uow, actor, INTAKE_ROLES, "recording a seizure")
    case = _case(uow, asset.case)
    if asset.asset not in uow.ledger.assets():
        problems.append(Problem(where, "asset", f"unknown asset {asset.asset!r}"))
    if problems:
        raise InvalidInput(problems)
    earlier = uow.intake.seizure_at(asset.outpoint)
    if earlier is not None:
        seen, seq = earlier
        if seen.case != asset.case:
            raise Conflict.one(where, "txid", f"already recorded in case {seen.case}")
        if seen != asset:
            raise Conflict.one(where, "txid", "already recorded with other details")
        return SeizureRecorded(asset.case, asset.outpoint, seq, created=False)
    day = asset.seized_at.date()
    account, equity = custody_account(case.number, asset.asset), custody_equity(case.number)
    if case_of(account) != asset.case or case_of(equity) != asset.case:
        raise InvalidInput.one(where, "case", f"{account} does not belong to {asset.case}")
    opened = min(case.opened_on, day)
    ensure_accounts(uow, reserve, [Account(account, None, opened)], actor=actor)
    ensure_accounts(uow, reserve, [Account(equity, None, opened)], actor=actor)
    lot = LotOpening("seizure", asset.outpoint, fair_value_usd, fair_value_kzt, acquired_on=day)
    draft = EntryDraft(
        f"seizure:{asset.case}:{asset.outpoint}",
        day,
        "seizure",
        f"Seized in case {asset.case} on {asset.chain}",
        (
            PostingDraft(account, asset.asset, asset.amount, opens=lot),
            PostingDraft(equity, asset.asset, -asset.amount),
        ),
        {"case": asset.case, "txid": asset.outpoint, "chain": asset.chain},
    )
    posted = post_in(uow, reserve, [draft], actor=actor, action="intake.seizure")[0]
    uow.intake.add_seizure(asset, entry_seq=posted.seq)
    details = {
        "outpoint": asset.outpoint,
        "asset": asset.asset,
        "amount": str(asset.amount),
        "entry_seq": str(posted.seq),
    }
    record_now(uow, reserve, actor, "cases.seize", f"case {asset.case}", details)
    return SeizureRecorded(asset.case, asset.outpoint, posted.seq, created=True)


def _seizure_problems(asset: SeizedAsset, usd: Decimal, kzt: Decimal, where: str) -> list[Problem]:
    problems: list[Problem] = []

    def bad(field: str, reason: str) -> None:
        problems.append(Problem(where, field, reason))

    if asset.amount <= 0:
        bad("amount", "must be positive")
    if not TXID.match(asset.txid):
        bad("txid", f"{asset.txid!r} is not a 64-hex transaction id")
    if asset.vout is not None and asset.vout < 0:
        bad("vout", f"{asset.vout} is not an output index")
    for name, value in (
        ("chain", asset.chain),
        ("source_address", asset.source_address),
        ("destination_address", asset.destination_address),
    ):
        if not value.strip() or len(value) > MAX_TEXT:
            bad(name, f"must be 1 to {MAX_TEXT} characters")
    if asset.seized_at.tzinfo is None:
        bad("seized_at", "must carry a time zone")
    for name, cost in (("fair_value_usd", usd), ("fair_value_kzt", kzt)):
        if cost < 0:
            bad(name, "must not be negative")
    return problems


# -- legal orders ---------------------------------------------------------------------------
def propose_order(reserve: Reserve, order: LegalOrder, *, actor: str) -> RecordedOrder:
    """Store an order for approval; the actor is its proposer and can never approve it."""
    order = replace(order, proposer=actor, approvers=frozenset())
    where = f"order {order.reference or '(no reference)'}"
    with reserve.writing() as uow:
        require_role(uow, actor, PROPOSING_ROLES, "proposing a legal transition")
        _case(uow, order.case)
        problems: list[Problem] = []
        if order.asset not in uow.ledger.assets():
            problems.append(Problem(where, "asset", f"unknown asset {order.asset!r}"))
        if order.to_state in NOT_YET_SUPPORTED:
            problems.append(_unsupported(where, order.to_state))
        if len(order.reference) > MAX_TEXT:
            problems.append(Problem(where, "reference", f"is longer than {MAX_TEXT} characters"))
        position = _position(uow, order.case, order.asset)
        found = order_problems(position, order, where=where)
        problems += [p for p in found if p.field != "approvers"]  # approvals come later
        if problems:
            raise InvalidInput(problems)
        digest = request_hash(order_request(order))
        now = reserve.clock()
        order_id = uow.intake.add_order(order, request_hash=digest, proposed_at=now)
        details = {**order_request(order), "request_hash": digest}
        record_now(uow, reserve, actor, "orders.propose", order_subject(order_id), details)
        uow.commit()
    return RecordedOrder(order_id, order, digest, now)


def approve_order(reserve: Reserve, order_id: int, *, actor: str) -> Approval:
    """Record ``actor``'s approval of the order exactly as stored (rule ``legal-transition``)."""
    with reserve.writing() as uow:
        acting_user(uow, actor)
        recorded = _order(uow, order_id)
        if recorded.executed_at is not None:
            raise InvalidInput.one(
                order_subject(order_id), "status", "is already executed; nothing to approve"
            )
        approval = approve_in(
            uow,
            reserve,
            subject=order_subject(order_id),
            request=order_request(recorded.order),
            approver=actor,
            rule=LEGAL_TRANSITION,
            proposer=recorded.order.proposer,
        )
        uow.commit()
    return approval


def execute_order(
    reserve: Reserve,
    order_id: int,
    *,
    actor: str,
    fund: str | None = None,
    fund_account: str | None = None,
    fair_value_usd: Decimal | None = None,
    fair_value_kzt: Decimal | None = None,
) -> OrderExecuted:
    """Carry out an approved order, once: check approvals and the case's position as they
    stand, book any movement out of custody, and record the execution, all or nothing.

    A transfer to the reserve needs the fund, the fund's account and the fair value on the
    forfeiture date, which becomes the new lot's cost.
    """
    subject = order_subject(order_id)
    with reserve.writing() as uow:
        require_role(uow, actor, EXECUTING_ROLES, "executing a legal transition")
        recorded = _order(uow, order_id)
        order = recorded.order
        if recorded.executed_at is not None:
            raise InvalidInput.one(
                subject, "status", f"was already executed at {recorded.executed_at:%Y-%m-%d}"
            )
        if order.to_state in NOT_YET_SUPPORTED:
            raise InvalidInput([_unsupported(subject, order.to_state)])
        digest = request_hash(order_request(order))
        problems: list[Problem] = []
        if digest != recorded.request_hash:
            problems.append(
                Problem(subject, "request_hash", "the stored order no longer hashes as proposed")
            )
        approvals = uow.governance.approvals_for(subject)
        users = uow.governance.users(a.approver for a in approvals)
        problems += approval_problems(
            approvals,
            LEGAL_TRANSITION,
            subject=subject,
            request_hash=digest,
            proposer=order.proposer,
            users=users,
        )
        approvers = frozenset(a.approver for a in approvals if a.request_hash == digest)
        position = _position(uow, order.case, order.asset)
        found = order_problems(position, replace(order, approvers=approvers), where=subject)
        problems += [p for p in found if p.field != "approvers"]  # counted above, by the rule
        transfer = order.to_state is LegalState.TRANSFERRED_TO_RESERVE
        if transfer:
            problems += _transfer_problems(
                uow, subject, fund, fund_account, fair_value_usd, fair_value_kzt
            )
        if problems:
            raise InvalidInput(problems)
        entry_seq = None
        if order.to_state in LEAVES_CUSTODY:
            if transfer:
                assert fund is not None
                assert fund_account is not None
                assert fair_value_usd is not None
                assert fair_value_kzt is not None
                draft = _transfer_draft(
                    uow, reserve, recorded, fund, fund_account, fair_value_usd, fair_value_kzt,
                    actor=actor,
                )  # fmt: skip
            else:
                draft = _return_draft(recorded, reserve.clock().date())
            released = {(order.case, order.asset): order.amount}
            entry_seq = post_in(
                uow, reserve, [draft], actor=actor, action="intake.order", released=released
            )[0].seq
        uow.intake.add_execution(order_id, at=reserve.clock(), entry_seq=entry_seq)
        details = {
            "to_state": order.to_state.value,
            "amount": str(order.amount),
            "request_hash": digest,
            "approvers": ",".join(sorted(approvers)),
            "entry_seq": "" if entry_seq is None else str(entry_seq),
        }
        record_now(uow, reserve, actor, "orders.execute", subject, details)
        uow.commit()
    return OrderExecuted(order_id, order.to_state, entry_seq)


def _unsupported(where: str, state: LegalState) -> Problem:
    return Problem(
        where,
        "to_state",
        f"{state} is not yet supported: sales of seized units come with the venue rules",
    )


def _transfer_problems(
    uow: UnitOfWork,
    where: str,
    fund: str | None,
    fund_account: str | None,
    usd: Decimal | None,
    kzt: Decimal | None,
) -> list[Problem]:
    problems: list[Problem] = []
    if fund is None:
        problems.append(Problem(where, "fund", "a transfer to the reserve names the fund"))
    elif fund not in uow.ledger.funds():
        problems.append(Problem(where, "fund", f"unknown fund {fund!r}"))
    if fund_account is None:
        problems.append(Problem(where, "fund_account", "name the fund's account to receive"))
    else:
        known = uow.ledger.accounts().get(fund_account)
        if not fund_account.startswith("Assets:") or case_of(fund_account) is not None:
            problems.append(
                Problem(where, "fund_account", f"{fund_account} is not a fund's asset account")
            )
        elif known is not None and known.fund != fund:
            problems.append(
                Problem(where, "fund_account", f"{fund_account} is in fund {known.fund}")
            )
    for name, value in (("fair_value_usd", usd), ("fair_value_kzt", kzt)):
        if value is None:
            problems.append(Problem(where, name, "the fair value on the forfeiture date is needed"))
        elif value < 0:
            problems.append(Problem(where, name, "must not be negative"))
    return problems


def _transfer_draft(
    uow: UnitOfWork,
    reserve: Reserve,
    recorded: RecordedOrder,
    fund: str,
    fund_account: str,
    usd: Decimal,
    kzt: Decimal,
    *,
    actor: str,
) -> EntryDraft:
    """Relieve the case's custody lots (FIFO) through its custody equity, and open one new lot
    in the fund's account through the fund's forfeiture equity: the units become the state's
    at the fair value on the forfeiture date."""
    order = recorded.order
    day = reserve.clock().date()
    equity = forfeiture_equity(fund)
    opened = min(day, order.issued_on)
    ensure_accounts(
        uow,
        reserve,
        [Account(fund_account, fund, opened), Account(equity, fund, opened)],
        actor=actor,
    )
    forfeited_on = max(
        (
            r.order.issued_on
            for r in uow.intake.orders(case=order.case)
            if r.executed_at is not None
            and r.order.asset == order.asset
            and r.order.to_state is LegalState.FORFEITED
        ),
        default=order.issued_on,
    )  # the units became the state's on the (latest) forfeiture, not on the transfer order
    lot = LotOpening("forfeiture", order.reference, usd, kzt, acquired_on=forfeited_on)
    return EntryDraft(
        f"legal-order:{recorded.id}",
        day,
        "forfeiture",
        f"Case {order.case} forfeited to {fund} under {order.reference}",
        (
            PostingDraft(custody_account(order.case, order.asset), order.asset, -order.amount),
            PostingDraft(custody_equity(order.case), order.asset, order.amount),
            # the new lot opens before its counterpart names it (verify reads legs in order)
            PostingDraft(fund_account, order.asset, order.amount, opens=lot),
            PostingDraft(equity, order.asset, -order.amount),
        ),
        {"case": order.case, "order": str(recorded.id), "reference": order.reference},
    )


def _return_draft(recorded: RecordedOrder, day: date) -> EntryDraft:
    """Units leave custody to the named recipients: the case holds that much less for them."""
    order = recorded.order
    return EntryDraft(
        f"legal-order:{recorded.id}",
        day,
        order.to_state.value.lower(),
        f"Case {order.case}: {order.to_state.value.lower()} under {order.reference}",
        (
            PostingDraft(custody_account(order.case, order.asset), order.asset, -order.amount),
            PostingDraft(custody_equity(order.case), order.asset, order.amount),
        ),
        {
            "case": order.case,
            "order": str(recorded.id),
            "reference": order.reference,
            "recipients": "; ".join(order.recipients),
        },
    )


# -- reading --------------------------------------------------------------------------------
def list_cases(reserve: Reserve) -> list[SeizureCase]:
    with reserve.reading() as uow:
        return uow.intake.cases()


def list_orders(reserve: Reserve, *, case: str | None = None) -> list[RecordedOrder]:
    with reserve.reading() as uow:
        return uow.intake.orders(case=case)


def case_position(reserve: Reserve, case: str) -> list[PositionLine]:
    """Per asset of the case: units in each legal state and the custody accounts' balance."""
    with reserve.reading() as uow:
        _case(uow, case)
        return _positions(uow, case)


def show_case(reserve: Reserve, number: str) -> CaseView:
    with reserve.reading() as uow:
        case = _case(uow, number)
        orders = uow.intake.orders(case=number)
        approvals = {o.id: uow.governance.approvals_for(order_subject(o.id)) for o in orders}
        return CaseView(
            case, uow.intake.seizures(number), orders, approvals, _positions(uow, number)
        )


def _positions(uow: UnitOfWork, case: str) -> list[PositionLine]:
    decimals = {code: a.decimals for code, a in uow.ledger.assets().items()}
    held = uow.ledger.current_balances(account_prefix=f"{CUSTODY_ROOT}:{case}")
    codes = sorted({s.asset for s in uow.intake.seizures(case)})
    lines = []
    for code in codes:
        position = _position(uow, case, code)
        balance = sum(amount for (_a, asset), amount in held.items() if asset == code)
        lines.append(PositionLine(case, code, decimals[code], dict(position.units), balance))
    return lines


def _position(uow: UnitOfWork, case: str, asset: str) -> LegalPosition:
    seized = [s.amount for s in uow.intake.seizures(case) if s.asset == asset]
    executed = [
        o.order
        for o in uow.intake.orders(case=case)
        if o.executed_at is not None and o.order.asset == asset
    ]
    return position_of(case, asset, seized, executed)


def _case(uow: UnitOfWork, number: str) -> SeizureCase:
    case = uow.intake.case(number)
    if case is None:
        raise NotFound.one(f"case {number}", "case", f"{number!r} is not an open case")
    return case


def _order(uow: UnitOfWork, order_id: int) -> RecordedOrder:
    recorded = uow.intake.order(order_id)
    if recorded is None:
        raise NotFound.one(order_subject(order_id), "order", f"there is no order {order_id}")
    return recorded
