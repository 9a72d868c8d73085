"""Seizure-case use cases: open a case, record what was seized, and read a case's position.

Seized units are held for their case, not owned: a seizure books them into the case's own
custody account against the case's custody equity, in no fund, in the same unit of work as the
seizure record. They leave custody only by an executed legal order (``intake_orders``); until
then the legal hold in the ledger keeps them, and any proceeds of their interlocutory sale, in
the case's custody accounts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from reserve.bootstrap import Reserve
from reserve.core.errors import Conflict, InvalidInput, NotFound, Problem
from reserve.governance.approvals import Approval
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
    LegalPosition,
    LegalState,
    RecordedOrder,
    order_subject,
    position_of,
)
from reserve.ledger.accounts import Account
from reserve.ledger.model import EntryDraft, LotOpening, PostingDraft
from reserve.services.audit import record_now
from reserve.services.intake_context import ensure_accounts, require_role
from reserve.services.ledger import post_in
from reserve.storage.uow import UnitOfWork

INTAKE_ROLES: Final = frozenset({Role.INTAKE_OFFICER, Role.ADMINISTRATOR})
MAX_TEXT: Final = 200


@dataclass(frozen=True)
class SeizureRecorded:
    case: str
    outpoint: str
    entry_seq: int
    created: bool


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

    @property
    def sold(self) -> int:
        return LegalPosition(self.case, self.asset, self.units).sold


@dataclass(frozen=True)
class CaseView:
    case: SeizureCase
    seizures: list[SeizedAsset]
    orders: list[RecordedOrder]
    approvals: Mapping[int, list[Approval]]
    positions: list[PositionLine]
    proceeds_usd: int  # cents in the case's custody cash: its interlocutory sales, net of fees


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
    case = require_case(uow, asset.case)
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


# -- reading --------------------------------------------------------------------------------
def list_cases(reserve: Reserve) -> list[SeizureCase]:
    with reserve.reading() as uow:
        return uow.intake.cases()


def case_position(reserve: Reserve, case: str) -> list[PositionLine]:
    """Per asset of the case: units in each legal state and the custody accounts' balance."""
    with reserve.reading() as uow:
        require_case(uow, case)
        return _positions(uow, case)


def show_case(reserve: Reserve, number: str) -> CaseView:
    """A case with its seizures, orders and their approvals, position, and sale proceeds."""
    with reserve.reading() as uow:
        case = require_case(uow, number)
        orders = uow.intake.orders(case=number)
        approvals = {o.id: uow.governance.approvals_for(order_subject(o.id)) for o in orders}
        cash = uow.ledger.current_balances(
            account_prefix=custody_account(number, "USD"), asset="USD"
        )
        return CaseView(
            case, uow.intake.seizures(number), orders, approvals, _positions(uow, number),
            sum(cash.values()),
        )  # fmt: skip


def _positions(uow: UnitOfWork, case: str) -> list[PositionLine]:
    decimals = {code: a.decimals for code, a in uow.ledger.assets().items()}
    held = uow.ledger.current_balances(account_prefix=f"{CUSTODY_ROOT}:{case}")
    codes = sorted({s.asset for s in uow.intake.seizures(case)})
    lines = []
    for code in codes:
        position = position_in(uow, case, code)
        balance = sum(amount for (_a, asset), amount in held.items() if asset == code)
        lines.append(PositionLine(case, code, decimals[code], dict(position.units), balance))
    return lines


def position_in(uow: UnitOfWork, case: str, asset: str) -> LegalPosition:
    """The case's units of ``asset`` per legal state, from its seizures and executed orders."""
    seized = [s.amount for s in uow.intake.seizures(case) if s.asset == asset]
    executed = [
        o.order
        for o in uow.intake.orders(case=case)
        if o.executed_at is not None and o.order.asset == asset
    ]
    return position_of(case, asset, seized, executed)


def require_case(uow: UnitOfWork, number: str) -> SeizureCase:
    """The open case ``number``; NotFound otherwise."""
    case = uow.intake.case(number)
    if case is None:
        raise NotFound.one(f"case {number}", "case", f"{number!r} is not an open case")
    return case
