"""Purchase use cases: propose a conversion, approve it in committee, book its fills, close it.

A committee member proposes (the actor is the proposer); M of the other members approve the
proposal exactly as stored, M being the policy's quorum when it was proposed, kept on the order
with the policy's sha256. A proposal that could never reach its quorum is refused outright. Each
fill is checked against the approvals as they stand at that moment, the window, the budget and
the venue's licence, and is booked in the same unit of work as its record: a new lot at the
venue costed at what the fill paid, against the fund's trading equity, which is settled in USD
against the equity of the funding source. A closure ends the order for good.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Final

from reserve.bootstrap import Reserve
from reserve.core.errors import Conflict, InvalidInput, NotFound, Problem
from reserve.core.money import canonical_decimal, decimal_text
from reserve.governance.approvals import (
    Approval,
    request_hash,
)
from reserve.governance.people import Role
from reserve.intake.policy import PolicyInForce
from reserve.intake.purchases import (
    CLOSED,
    USD,
    Closure,
    Fill,
    OrderStatus,
    Proposal,
    RecordedFill,
    RecordedPurchase,
    average_price_usd,
    committee_rule,
    fill_accounts,
    fill_entry,
    fill_problems,
    fill_ref_problems,
    proposal_problems,
    purchase_request,
    purchase_subject,
    spent_usd,
    status_of,
)
from reserve.services.audit import acting_user, record_now
from reserve.services.governance import (
    StandingApprovals,
    altered,
    approve_in,
    standing_approvals,
)
from reserve.services.intake_context import (
    ensure_accounts,
    kzt_per_usd,
    policy_in_force,
    require_role,
)
from reserve.services.ledger import post_in
from reserve.storage.uow import UnitOfWork

PROPOSING_ROLES: Final = frozenset({Role.COMMITTEE_MEMBER})
FILLING_ROLES: Final = frozenset({Role.INTAKE_OFFICER, Role.ADMINISTRATOR})
CLOSING_ROLES: Final = frozenset({Role.COMMITTEE_MEMBER, Role.ADMINISTRATOR})
MAX_REASON: Final = 2000


@dataclass(frozen=True)
class FillRecorded:
    order_id: str
    venue: str
    ref: str
    entry_seq: int
    cost_usd: Decimal  # exact, fee included: the lot's cost
    kzt_per_usd: Decimal  # the rate the fill was booked at
    created: bool


@dataclass(frozen=True)
class PurchaseView:
    """An order with what its approvals, fills and closure make of it."""

    purchase: RecordedPurchase
    status: OrderStatus
    approvals: list[Approval]
    approvers: tuple[str, ...]  # who approved the proposal as it stands
    fills: list[RecordedFill]
    closure: Closure | None
    decimals: int  # of the asset bought
    spent_usd: Decimal
    remaining_usd: Decimal
    units_bought: int
    average_price_usd: Decimal | None  # volume-weighted, fees left out

    @property
    def proposal(self) -> Proposal:
        return self.purchase.proposal

    @property
    def quorum(self) -> int:
        return self.purchase.quorum


# -- proposal and approval ------------------------------------------------------------------
def propose_purchase(reserve: Reserve, proposal: Proposal, *, actor: str) -> RecordedPurchase:
    """Store a proposal for the committee; the actor is its proposer and never approves it.

    Proposing the same order again returns the first; the same order id with other details is
    refused, and so is a proposal that too few other committee members could ever approve.
    """
    proposal = replace(proposal, proposer=actor, amount_usd=canonical_decimal(proposal.amount_usd))
    where = f"purchase {proposal.order_id}"
    with reserve.writing() as uow:
        require_role(uow, actor, PROPOSING_ROLES, "proposing a purchase")
        policy = policy_in_force(reserve)
        problems = proposal_problems(proposal, where=where)
        asset = uow.ledger.assets().get(proposal.asset)
        if asset is None:
            problems.append(Problem(where, "asset", f"unknown asset {proposal.asset!r}"))
        elif not asset.tracks_lots:
            problems.append(
                Problem(where, "asset", f"{asset.code} is held without lots: nothing to buy")
            )
        if proposal.fund not in uow.ledger.funds():
            problems.append(Problem(where, "fund", f"unknown fund {proposal.fund!r}"))
        if problems:
            raise InvalidInput(problems)
        earlier = uow.purchases.order(proposal.order_id)
        if earlier is not None:
            if earlier.proposal == proposal:
                return earlier
            raise Conflict.one(where, "order_id", "is already proposed with other details")
        quorum = policy.policy.committee.quorum
        others = sorted(
            u.username
            for u in uow.governance.users().values()
            if u.active and Role.COMMITTEE_MEMBER in u.roles and u.username != actor
        )
        if len(others) < quorum:
            raise InvalidInput.one(
                where,
                "approvals",
                f"the committee's quorum is {quorum} but only {len(others)} active committee "
                "member(s) besides the proposer exist: the proposal could never be approved",
            )
        request = purchase_request(proposal)
        recorded = RecordedPurchase(
            proposal, request_hash(request), quorum, policy.sha256, reserve.clock()
        )
        uow.purchases.add_order(recorded)
        details = {
            **request,
            "request_hash": recorded.request_hash,
            "quorum": str(quorum),
            "policy_sha256": policy.sha256,
        }
        subject = purchase_subject(proposal.order_id)
        record_now(uow, reserve, actor, "purchases.propose", subject, details)
        uow.commit()
    return recorded


def approve_purchase(reserve: Reserve, order_id: str, *, actor: str) -> Approval:
    """Record ``actor``'s approval of the proposal exactly as stored (rule
    ``investment-committee``, with the order's quorum)."""
    subject = purchase_subject(order_id)
    with reserve.writing() as uow:
        acting_user(uow, actor)
        recorded = _purchase(uow, order_id)
        closure = uow.purchases.closure(order_id)
        if closure is not None:
            raise InvalidInput.one(subject, "status", f"{_closed(closure)}: nothing to approve")
        request = purchase_request(recorded.proposal)
        if request_hash(request) != recorded.request_hash:
            raise InvalidInput([altered(subject, "proposal")])
        approval = approve_in(
            uow,
            reserve,
            subject=subject,
            request=request,
            approver=actor,
            rule=committee_rule(recorded.quorum),
            proposer=recorded.proposal.proposer,
        )
        uow.commit()
    return approval


# -- fills ----------------------------------------------------------------------------------
def record_fill(reserve: Reserve, order_id: str, fill: Fill, *, actor: str) -> FillRecorded:
    """Book a fill of an approved order as a new lot at the venue. Recording the same venue
    trade again returns the first; the same trade with other details is refused."""
    with reserve.writing() as uow:
        policy = policy_in_force(reserve)
        done = record_fill_in(uow, reserve, order_id, fill, policy=policy, actor=actor)
        if done.created:
            uow.commit()
    return done


def record_fill_in(
    uow: UnitOfWork,
    reserve: Reserve,
    order_id: str,
    fill: Fill,
    *,
    policy: PolicyInForce,
    actor: str,
) -> FillRecorded:
    """``record_fill`` inside the caller's unit of work, under ``policy``."""
    where = f"purchase {order_id} fill {fill.venue}:{fill.ref}"
    require_role(uow, actor, FILLING_ROLES, "recording a purchase fill")
    recorded = _purchase(uow, order_id)
    proposal = recorded.proposal
    assets = uow.ledger.assets()
    decimals = assets[proposal.asset].decimals
    earlier = uow.purchases.fill_at(fill.venue, fill.ref)
    if earlier is not None:  # before the checks: a replay after the last fill is no new spend
        return _replayed(earlier, order_id, fill, decimals, where)
    unapproved = _standing(uow, recorded).problems
    status = status_of(uow.purchases.closure(order_id), approved=not unapproved)
    done = [f.fill for f in uow.purchases.fills(order_id)]
    problems = fill_problems(proposal, status, done, fill, decimals=decimals, where=where)
    if status is OrderStatus.PROPOSED:
        problems += unapproved  # say what the approval still lacks
    problems += fill_ref_problems(fill, where=where)
    problems += policy.policy.venue_problems(fill.venue, fill.filled_on, where=where)
    today = reserve.clock().date()
    if fill.filled_on > today:
        problems.append(Problem(where, "filled_on", f"{fill.filled_on} is after today, {today}"))
    if USD not in assets:
        problems.append(Problem(where, "asset", f"the ledger has no {USD} asset to pay with"))
    rate = fill.kzt_per_usd
    try:
        rate = kzt_per_usd(reserve, fill.filled_on, given=rate, policy=policy, where=where)
    except InvalidInput as refused:
        problems += refused.problems
    if problems:
        raise InvalidInput(problems)
    assert rate is not None
    booked = replace(fill, kzt_per_usd=rate)
    ensure_accounts(uow, reserve, fill_accounts(proposal, booked), actor=actor)
    draft = fill_entry(
        proposal, booked, decimals=decimals, usd_decimals=assets[USD].decimals, day=today
    )
    posted = post_in(uow, reserve, [draft], actor=actor, action="intake.purchase")[0]
    uow.purchases.add_fill(RecordedFill(order_id, booked, posted.seq, actor, reserve.clock()))
    cost = fill.spent_usd(decimals)
    details = {
        "venue": fill.venue,
        "ref": fill.ref,
        "quantity": str(fill.quantity),
        "price_usd": decimal_text(fill.price_usd),
        "fee_usd": decimal_text(fill.fee_usd),
        "filled_on": fill.filled_on.isoformat(),
        "kzt_per_usd": decimal_text(rate),
        "cost_usd": decimal_text(cost),
        "entry_seq": str(posted.seq),
    }
    record_now(uow, reserve, actor, "purchases.fill", purchase_subject(order_id), details)
    return FillRecorded(order_id, fill.venue, fill.ref, posted.seq, cost, rate, created=True)


def _replayed(
    earlier: RecordedFill, order_id: str, fill: Fill, decimals: int, where: str
) -> FillRecorded:
    if earlier.order_id != order_id:
        raise Conflict.one(where, "ref", f"already recorded for order {earlier.order_id}")
    stored = earlier.fill
    given = fill if fill.kzt_per_usd is not None else replace(fill, kzt_per_usd=stored.kzt_per_usd)
    if given != stored:
        raise Conflict.one(where, "ref", "this venue trade is already recorded with other details")
    assert stored.kzt_per_usd is not None
    return FillRecorded(
        order_id, fill.venue, fill.ref, earlier.entry_seq, stored.spent_usd(decimals),
        stored.kzt_per_usd, created=False,
    )  # fmt: skip


# -- closing --------------------------------------------------------------------------------
def close_purchase(
    reserve: Reserve, order_id: str, status: OrderStatus, reason: str, *, actor: str
) -> Closure:
    """Complete or cancel an order, with the reason; it then takes no fill nor approval.
    Closing it again the same way returns the first closure."""
    subject = purchase_subject(order_id)
    with reserve.writing() as uow:
        require_role(uow, actor, CLOSING_ROLES, "closing a purchase")
        recorded = _purchase(uow, order_id)
        problems: list[Problem] = []
        if status not in CLOSED:
            reason_text = f"{status} does not close an order; COMPLETED or CANCELLED does"
            problems.append(Problem(subject, "status", reason_text))
        if not reason.strip() or len(reason) > MAX_REASON:
            why = f"say why the order closes, in 1 to {MAX_REASON} characters"
            problems.append(Problem(subject, "reason", why))
        if problems:
            raise InvalidInput(problems)
        earlier = uow.purchases.closure(order_id)
        if earlier is not None:
            if (earlier.status, earlier.reason) == (status, reason):
                return earlier
            raise Conflict.one(subject, "status", _closed(earlier))
        fills = [f.fill for f in uow.purchases.fills(order_id)]
        if status is OrderStatus.COMPLETED and not fills:
            raise InvalidInput.one(
                subject, "status", "has no fill, so it cannot be COMPLETED: cancel it instead"
            )
        closure = Closure(order_id, status, reason, actor, reserve.clock())
        uow.purchases.add_closure(closure)
        decimals = uow.ledger.assets()[recorded.proposal.asset].decimals
        details = {
            "status": status.value,
            "reason": reason,
            "fills": str(len(fills)),
            "spent_usd": decimal_text(spent_usd(fills, decimals)),
        }
        record_now(uow, reserve, actor, "purchases.close", subject, details)
        uow.commit()
    return closure


# -- reading --------------------------------------------------------------------------------
def list_purchases(reserve: Reserve) -> list[PurchaseView]:
    with reserve.reading() as uow:
        return [_view(uow, recorded) for recorded in uow.purchases.orders()]


def show_purchase(reserve: Reserve, order_id: str) -> PurchaseView:
    with reserve.reading() as uow:
        return _view(uow, _purchase(uow, order_id))


def _view(uow: UnitOfWork, recorded: RecordedPurchase) -> PurchaseView:
    proposal = recorded.proposal
    standing = _standing(uow, recorded)
    closure = uow.purchases.closure(proposal.order_id)
    fills = uow.purchases.fills(proposal.order_id)
    decimals = uow.ledger.assets()[proposal.asset].decimals
    done = [f.fill for f in fills]
    spent = spent_usd(done, decimals)
    return PurchaseView(
        purchase=recorded,
        status=status_of(closure, approved=not standing.problems),
        approvals=standing.approvals,
        approvers=tuple(a.approver for a in standing.approvals if a.approver in standing.approvers),
        fills=fills,
        closure=closure,
        decimals=decimals,
        spent_usd=spent,
        remaining_usd=canonical_decimal(proposal.amount_usd - spent),
        units_bought=sum(f.quantity for f in done),
        average_price_usd=average_price_usd(done, decimals),
    )


def _standing(uow: UnitOfWork, recorded: RecordedPurchase) -> StandingApprovals:
    """The order's approvals, and every reason they do not (or no longer) approve it."""
    return standing_approvals(
        uow,
        subject=purchase_subject(recorded.proposal.order_id),
        request=purchase_request(recorded.proposal),
        stored_hash=recorded.request_hash,
        rule=committee_rule(recorded.quorum),
        proposer=recorded.proposal.proposer,
        what="proposal",
    )


def _closed(closure: Closure) -> str:
    return f"is already {closure.status} since {closure.closed_at:%Y-%m-%d} ({closure.reason})"


def _purchase(uow: UnitOfWork, order_id: str) -> RecordedPurchase:
    recorded = uow.purchases.order(order_id)
    if recorded is None:
        raise NotFound.one(
            purchase_subject(order_id), "order_id", f"there is no purchase order {order_id!r}"
        )
    return recorded
