"""Legal-order use cases: propose an order, approve it, carry it out.

Seized units move only by a recorded order that two legal officers or administrators, neither
its proposer, approved, for exactly the order as stored (its request hash). Within custody
(restraint, forfeiture) an execution changes only the legal position; out of custody it is booked
in the same unit of work (``intake_orders_booking``): to a fund as a new lot (transfer to the
reserve), out of custody to named recipients (return, restitution), or to a buyer through a
venue licensed on the day (sale), whose proceeds stay with the case or go to a fund.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Final

from reserve.bootstrap import Reserve
from reserve.core.errors import InvalidInput, NotFound, Problem
from reserve.governance.approvals import Approval, ApprovalRule, request_hash
from reserve.governance.people import Role
from reserve.intake.legal import (
    LEAVES_CUSTODY,
    MIN_APPROVERS,
    SALES,
    LegalOrder,
    LegalState,
    RecordedOrder,
    order_problems,
    order_request,
    order_subject,
)
from reserve.services.audit import acting_user, record_now
from reserve.services.governance import approve_in, standing_approvals
from reserve.services.intake_cases import MAX_TEXT, position_in, require_case
from reserve.services.intake_context import policy_in_force, require_role
from reserve.services.intake_orders_booking import (
    priced_sale,
    return_draft,
    sale_draft,
    sale_problems,
    transfer_draft,
    transfer_problems,
)
from reserve.services.ledger import post_in
from reserve.storage.uow import UnitOfWork

__all__ = [
    "LEGAL_TRANSITION",
    "OrderExecuted",
    "approve_order",
    "execute_order",
    "list_orders",
    "order_subject",
    "propose_order",
]

LEGAL_TRANSITION: Final = ApprovalRule(
    "legal-transition", frozenset({Role.LEGAL_OFFICER, Role.ADMINISTRATOR}), quorum=MIN_APPROVERS
)
"""Two distinct approvers, legal officers or administrators, never the order's proposer."""
PROPOSING_ROLES: Final = frozenset({Role.LEGAL_OFFICER})
EXECUTING_ROLES: Final = frozenset({Role.LEGAL_OFFICER, Role.ADMINISTRATOR})
S = LegalState
_SALE: Final = frozenset({"venue", "sale_ref", "price_usd", "fee_usd"})
USES: Final[Mapping[LegalState, frozenset[str]]] = {
    S.TRANSFERRED_TO_RESERVE: frozenset(
        {"fund", "fund_account", "fair_value_usd", "fair_value_kzt"}
    ),
    S.INTERLOCUTORY_SOLD: _SALE,
    S.SOLD: _SALE | {"fund"},
}
"""The details each kind of execution books; any other detail given is refused, so nobody reads
an execution as having booked a value it ignored (a fund for proceeds that stay with the case)."""


@dataclass(frozen=True)
class OrderExecuted:
    order_id: int
    to_state: LegalState
    entry_seq: int | None  # None for a transition inside custody, which books nothing


def propose_order(reserve: Reserve, order: LegalOrder, *, actor: str) -> RecordedOrder:
    """Store an order for approval; the actor is its proposer and can never approve it."""
    order = replace(order, proposer=actor, approvers=frozenset())
    where = f"order {order.reference or '(no reference)'}"
    with reserve.writing() as uow:
        require_role(uow, actor, PROPOSING_ROLES, "proposing a legal transition")
        require_case(uow, order.case)
        problems: list[Problem] = []
        if order.asset not in uow.ledger.assets():
            problems.append(Problem(where, "asset", f"unknown asset {order.asset!r}"))
        if len(order.reference) > MAX_TEXT:
            problems.append(Problem(where, "reference", f"is longer than {MAX_TEXT} characters"))
        position = position_in(uow, order.case, order.asset)
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
    venue: str | None = None,
    sale_ref: str | None = None,
    price_usd: Decimal | None = None,
    fee_usd: Decimal | None = None,
) -> OrderExecuted:
    """Carry out an approved order, once: check approvals and the case's position as they
    stand, book any movement out of custody, and record the execution, all or nothing.

    A transfer to the reserve needs the fund, the fund's account and the fair value on the
    forfeiture date, which becomes the new lot's cost. A sale needs the venue (licensed on the
    execution day), the venue's trade id, the price per whole unit and the fee in USD; a sale
    after forfeiture also the fund whose cash receives the proceeds.
    """
    subject = order_subject(order_id)
    given = {
        "fund": fund, "fund_account": fund_account, "fair_value_usd": fair_value_usd,
        "fair_value_kzt": fair_value_kzt, "venue": venue, "sale_ref": sale_ref,
        "price_usd": price_usd, "fee_usd": fee_usd,
    }  # fmt: skip
    with reserve.writing() as uow:
        require_role(uow, actor, EXECUTING_ROLES, "executing a legal transition")
        recorded = _order(uow, order_id)
        order = recorded.order
        if recorded.executed_at is not None:
            raise InvalidInput.one(
                subject, "status", f"was already executed at {recorded.executed_at:%Y-%m-%d}"
            )
        digest = request_hash(order_request(order))
        standing = standing_approvals(
            uow,
            subject=subject,
            request=order_request(order),
            stored_hash=recorded.request_hash,
            rule=LEGAL_TRANSITION,
            proposer=order.proposer,
            what="order",
        )
        problems, approvers = standing.problems, standing.approvers
        position = position_in(uow, order.case, order.asset)
        found = order_problems(position, replace(order, approvers=approvers), where=subject)
        problems += [p for p in found if p.field != "approvers"]  # counted above, by the rule
        uses = USES.get(order.to_state, frozenset())
        problems += [
            Problem(subject, name, f"an order to {order.to_state} does not use it")
            for name, value in given.items()
            if value is not None and name not in uses
        ]
        day = reserve.clock().date()
        if order.to_state is S.TRANSFERRED_TO_RESERVE:
            problems += transfer_problems(
                uow, subject, fund, fund_account, fair_value_usd, fair_value_kzt
            )
        elif order.to_state in SALES:
            problems += sale_problems(
                uow, policy_in_force(reserve).policy, recorded, day=day, fund=fund, venue=venue,
                sale_ref=sale_ref, price_usd=price_usd, fee_usd=fee_usd,
            )  # fmt: skip
        if problems:
            raise InvalidInput(problems)
        sold: dict[str, str] = {}  # the sale's details, for the audit record too
        entry_seq = None
        if order.to_state in LEAVES_CUSTODY:
            if order.to_state is S.TRANSFERRED_TO_RESERVE:
                assert fund is not None
                assert fund_account is not None
                assert fair_value_usd is not None
                assert fair_value_kzt is not None
                draft = transfer_draft(
                    uow, reserve, recorded, fund, fund_account, fair_value_usd, fair_value_kzt,
                    actor=actor,
                )  # fmt: skip
            elif order.to_state in SALES:
                assert venue is not None
                assert sale_ref is not None
                assert price_usd is not None
                assert fee_usd is not None
                sale = priced_sale(
                    uow, recorded, venue=venue, sale_ref=sale_ref, price=price_usd, fee=fee_usd
                )
                draft = sale_draft(uow, reserve, recorded, sale, fund, actor=actor)
                sold = {**sale.refs(), **({"fund": fund} if fund else {})}
            else:
                draft = return_draft(recorded, day)
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
            **sold,
        }
        record_now(uow, reserve, actor, "orders.execute", subject, details)
        uow.commit()
    return OrderExecuted(order_id, order.to_state, entry_seq)


def list_orders(reserve: Reserve, *, case: str | None = None) -> list[RecordedOrder]:
    with reserve.reading() as uow:
        return uow.intake.orders(case=case)


def _order(uow: UnitOfWork, order_id: int) -> RecordedOrder:
    recorded = uow.intake.order(order_id)
    if recorded is None:
        raise NotFound.one(order_subject(order_id), "order", f"there is no order {order_id}")
    return recorded
