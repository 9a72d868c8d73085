"""The legal life of seized assets: states, the transitions a court or order may make, and the
units in each state.

Seized units are not the state's: they sit in their case's custody accounts under legal hold
until an order moves them. A case's units of one asset form a ``LegalPosition`` that counts how
many are in each state; an order moves an amount from one state to another, and only along
``TRANSITIONS``. Units reach a fund only as ``TRANSFERRED_TO_RESERVE``, and only from
``FORFEITED``: no sequence of orders can put seized units into a fund without a forfeiture.
A sale turns units into cash: an interlocutory sale (before any forfeiture) keeps the proceeds
with the case, under the same hold; a sale after forfeiture pays them to a fund.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Final

from reserve.core.errors import Problem


class LegalState(StrEnum):
    SEIZED = "SEIZED"
    RESTRAINED = "RESTRAINED"
    FORFEITED = "FORFEITED"
    TRANSFERRED_TO_RESERVE = "TRANSFERRED_TO_RESERVE"
    RETURNED = "RETURNED"
    RESTITUTED = "RESTITUTED"
    INTERLOCUTORY_SOLD = "INTERLOCUTORY_SOLD"
    SOLD = "SOLD"


S = LegalState
TRANSITIONS: Final[Mapping[LegalState, frozenset[LegalState]]] = {
    S.SEIZED: frozenset({S.RESTRAINED, S.FORFEITED, S.RETURNED, S.INTERLOCUTORY_SOLD}),
    S.RESTRAINED: frozenset({S.FORFEITED, S.RETURNED, S.RESTITUTED, S.INTERLOCUTORY_SOLD}),
    S.FORFEITED: frozenset({S.TRANSFERRED_TO_RESERVE, S.SOLD, S.RESTITUTED}),
    S.TRANSFERRED_TO_RESERVE: frozenset(),
    S.RETURNED: frozenset(),
    S.RESTITUTED: frozenset(),
    S.INTERLOCUTORY_SOLD: frozenset(),
    S.SOLD: frozenset(),
}
UNDER_HOLD: Final = frozenset({S.SEIZED, S.RESTRAINED, S.FORFEITED})
"""States whose units still sit in the case's custody accounts and move only by order."""
LEAVES_CUSTODY: Final = frozenset(TRANSITIONS) - UNDER_HOLD
"""States reached by an outbound movement: to a fund, to owners or victims, or to a buyer."""
SALES: Final = frozenset({S.INTERLOCUTORY_SOLD, S.SOLD})
"""States whose units went to a buyer through a licensed venue, for cash."""

SHA256_HEX: Final = re.compile(r"^[0-9a-f]{64}$")
MIN_APPROVERS: Final = 2


@dataclass(frozen=True)
class LegalOrder:
    """A court decision or order moving ``amount`` of a case's asset between legal states."""

    case: str
    asset: str
    amount: int
    from_state: LegalState
    to_state: LegalState
    reference: str
    issued_on: date
    document_sha256: str
    proposer: str
    approvers: frozenset[str]
    recipients: tuple[str, ...] = ()


@dataclass(frozen=True)
class LegalPosition:
    """How many units of one asset of one case are in each legal state."""

    case: str
    asset: str
    units: Mapping[LegalState, int] = field(default_factory=dict)

    def held(self, state: LegalState) -> int:
        return self.units.get(state, 0)

    @property
    def seized(self) -> int:
        """Every unit ever seized: conserved across all transitions."""
        return sum(self.units.values())

    @property
    def in_custody(self) -> int:
        return sum(self.held(state) for state in UNDER_HOLD)

    @property
    def sold(self) -> int:
        return sum(self.held(state) for state in SALES)

    def with_seizure(self, amount: int) -> LegalPosition:
        return self._moved({S.SEIZED: amount})

    def after(self, order: LegalOrder) -> LegalPosition:
        """The position once ``order`` is carried out (check ``order_problems`` first)."""
        return self._moved({order.from_state: -order.amount, order.to_state: order.amount})

    def _moved(self, deltas: Mapping[LegalState, int]) -> LegalPosition:
        units = dict(self.units)
        for state, delta in deltas.items():
            units[state] = units.get(state, 0) + delta
        return replace(self, units={s: n for s, n in units.items() if n})


def order_problems(position: LegalPosition, order: LegalOrder, *, where: str) -> list[Problem]:
    """Every reason ``order`` cannot be carried out on ``position``."""
    problems: list[Problem] = []

    def bad(field_name: str, reason: str) -> None:
        problems.append(Problem(where, field_name, reason))

    if (order.case, order.asset) != (position.case, position.asset):
        bad(
            "case",
            f"the order is for {order.case}/{order.asset}, not {position.case}/{position.asset}",
        )
    if order.to_state not in TRANSITIONS[order.from_state]:
        allowed = ", ".join(sorted(TRANSITIONS[order.from_state])) or "none: it is final"
        bad(
            "to_state",
            f"{order.from_state} -> {order.to_state} is not allowed "
            f"(from {order.from_state}: {allowed})",
        )
    if order.amount <= 0:
        bad("amount", "must be positive")
    elif order.amount > position.held(order.from_state):
        bad(
            "amount",
            f"{order.amount} units are not {order.from_state}: the case holds "
            f"{position.held(order.from_state)} in that state",
        )
    if not order.reference.strip():
        bad("reference", "a transition needs the court decision or order it carries out")
    if not SHA256_HEX.match(order.document_sha256):
        bad("document_sha256", "must be the lowercase hex sha256 of the order's document file")
    if order.proposer in order.approvers:
        bad("approvers", f"{order.proposer} proposed this transition and cannot approve it")
    if len(order.approvers - {order.proposer}) < MIN_APPROVERS:
        bad("approvers", f"needs {MIN_APPROVERS} distinct approvers besides the proposer")
    if order.to_state in {S.RETURNED, S.RESTITUTED} and not order.recipients:
        bad("recipients", "a return or restitution names who receives the units")
    return problems


def covering_order_problems(
    orders: list[LegalOrder], *, case: str, asset: str, amount: int, where: str
) -> list[Problem]:
    """Units under legal hold move out of custody only under a recorded order for at least
    that case, asset and amount."""
    covering = [
        o
        for o in orders
        if o.case == case
        and o.asset == asset
        and o.to_state in LEAVES_CUSTODY
        and o.amount >= amount
    ]
    if covering:
        return []
    return [
        Problem(
            where,
            "order",
            f"{amount} units of {asset} in case {case} are under legal hold and no recorded order "
            "for that case, asset and amount lets them leave custody",
        )
    ]


@dataclass(frozen=True)
class RecordedOrder:
    """An order as proposed and stored. Its approvals are kept apart (``order.approvers`` is
    empty here), and it moves the case's position only once executed."""

    id: int
    order: LegalOrder
    request_hash: str
    proposed_at: datetime
    executed_at: datetime | None = None
    entry_seq: int | None = None

    @property
    def status(self) -> str:
        return "PROPOSED" if self.executed_at is None else "EXECUTED"


def order_subject(order_id: int) -> str:
    """What approvals of an order name as their subject, and its execution's entry as its key."""
    return f"legal-order:{order_id}"


def order_request(order: LegalOrder) -> dict[str, str]:
    """What approvers approve: every field of the order but its approvers, as JSON strings."""
    return {
        "case": order.case,
        "asset": order.asset,
        "amount": str(order.amount),
        "from_state": order.from_state.value,
        "to_state": order.to_state.value,
        "reference": order.reference,
        "issued_on": order.issued_on.isoformat(),
        "document_sha256": order.document_sha256,
        "proposer": order.proposer,
        "recipients": "\n".join(order.recipients),
    }


def position_of(
    case: str, asset: str, seized: Iterable[int], executed: Iterable[LegalOrder]
) -> LegalPosition:
    """The position that the recorded seizures and executed orders of one case and asset make."""
    position = LegalPosition(case, asset)
    for amount in seized:
        position = position.with_seizure(amount)
    for order in executed:
        position = position.after(order)
    return position
