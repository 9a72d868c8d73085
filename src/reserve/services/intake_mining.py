"""State mining use cases: register an operation, book a month's output, sell its to-sell share.

A month's output is booked once, in the same unit of work as its record, into two lots of the
operation's fund: the share the rule in force on the month's first day requires sold (rounded
up) into the operation's ForSale account, the rest into its Retained account, both acquired on
the month's last day and costed by the policy's cost basis. A sale through a licensed venue
relieves that month's for-sale lot and books the USD proceeds, the venue's fee and, in its
record, the realised result. Every output and sale stores the sha256 of the policy it was
decided under; replays are no-ops and changed replays are refused.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Final

from reserve.bootstrap import Reserve
from reserve.core.errors import Conflict, InvalidInput, NotFound, Problem
from reserve.core.money import decimal_text, format_units, round_to_base_units
from reserve.governance.people import Role
from reserve.intake import mining as m
from reserve.intake.mining import MiningOperation, MiningOutput, MiningSale, OutputSplit
from reserve.intake.policy import CostBasis, PolicyInForce
from reserve.ledger.accounts import Account
from reserve.ledger.model import EntryDraft, Lot, LotOpening, PostingDraft
from reserve.services.audit import record_now
from reserve.services.intake_context import (
    ensure_accounts,
    kzt_per_usd,
    policy_in_force,
    require_role,
)
from reserve.services.ledger import post_in
from reserve.storage.uow import UnitOfWork

INTAKE_ROLES: Final = frozenset({Role.INTAKE_OFFICER, Role.ADMINISTRATOR})
USD: Final = "USD"
USD_DECIMALS: Final = 2  # amounts reaching here are whole cents already
MAX_TXID_REF: Final = 200  # longer payout lists name their first txid and a count in the entry


@dataclass(frozen=True)
class OutputRecorded:
    operation: str
    period: str
    split: OutputSplit
    entry_seq: int
    created: bool


@dataclass(frozen=True)
class SaleRecorded:
    venue: str
    ref: str
    entry_seq: int
    gross_usd: Decimal
    proceeds_usd: Decimal  # gross less the venue's fee
    cost_usd: Decimal
    realised_usd: Decimal
    created: bool


# -- operations -----------------------------------------------------------------------------
def register_operation(reserve: Reserve, operation: MiningOperation, *, actor: str) -> bool:
    """Register a mining operation; whether it is new (the same operation again is a no-op)."""
    where = f"operation {operation.code}"
    problems = m.operation_problems(operation, where=where)
    with reserve.writing() as uow:
        require_role(uow, actor, INTAKE_ROLES, "registering a mining operation")
        if operation.fund not in uow.ledger.funds():
            problems.append(Problem(where, "fund", f"unknown fund {operation.fund!r}"))
        asset = uow.ledger.assets().get(operation.asset)
        if asset is None:
            problems.append(Problem(where, "asset", f"unknown asset {operation.asset!r}"))
        elif not asset.tracks_lots:
            problems.append(Problem(where, "asset", f"{asset.code} is held without lots"))
        if problems:
            raise InvalidInput(problems)
        earlier = uow.mining.operation(operation.code)
        if earlier == operation:
            return False
        if earlier is not None:
            raise Conflict.one(where, "code", f"already registered with other details ({earlier})")
        uow.mining.add_operation(operation, by=actor, at=reserve.clock())
        details = {
            "site": operation.site,
            "operator": operation.operator,
            "tariff_kzt_per_mwh": str(operation.tariff_kzt_per_mwh),
            "fund": operation.fund,
            "asset": operation.asset,
        }
        record_now(uow, reserve, actor, "mining.register", where, details)
        uow.commit()
    return True


# -- output ---------------------------------------------------------------------------------
def record_output(reserve: Reserve, output: MiningOutput, *, actor: str) -> OutputRecorded:
    """Book a month's output under the policy in force now (see ``record_output_in``)."""
    policy = policy_in_force(reserve)
    with reserve.writing() as uow:
        recorded = record_output_in(uow, reserve, output, policy=policy, actor=actor)
        if recorded.created:
            uow.commit()
    return recorded


def record_output_in(
    uow: UnitOfWork,
    reserve: Reserve,
    output: MiningOutput,
    *,
    policy: PolicyInForce,
    actor: str,
) -> OutputRecorded:
    """``record_output`` inside the caller's unit of work, so a bulk import is all or nothing.

    The same report again returns the first (a rate left out means the rate used then); another
    report for the same operation and month is refused.
    """
    where = f"output {output.operation} {output.period}"
    require_role(uow, actor, INTAKE_ROLES, "recording mining output")
    today = reserve.clock().date()
    problems = m.output_problems(output, today=today, where=where)
    op = uow.mining.operation(output.operation)
    if op is None:
        problems.append(_unknown_operation(where, output.operation))
    earlier = uow.mining.output(output.operation, output.period)
    if earlier is not None:
        if m.same_report(earlier.output, output):
            seq = earlier.entry_seq
            return OutputRecorded(output.operation, output.period, earlier.split, seq, False)
        raise Conflict.one(
            where, "period", f"already recorded with other details (entry {earlier.entry_seq})"
        )
    basis = policy.policy.mining.cost_basis
    if basis is CostBasis.FAIR_VALUE and output.fair_value_usd is None:
        reason = "the policy costs mining output at fair value: give its fair value at receipt"
        problems.append(Problem(where, "fair_value_usd", reason))
    earlier_reports = [r.output for r in uow.mining.outputs(operation=output.operation)]
    problems += m.payouts_reported(output, earlier_reports, where=where)
    rule, rate = None, Decimal(0)
    if not any(p.field == "period" for p in problems):  # a well-formed month that has ended
        first, last = m.period_bounds(output.period)
        rule = m.rule_on(policy.policy.sale_rules(), first)
        if rule is None:
            reason = f"no sale rule is in force on {first}, the first day of {output.period}"
            problems.append(Problem(where, "period", reason))
        try:
            rate = kzt_per_usd(reserve, last, given=output.kzt_per_usd, policy=policy, where=where)
        except InvalidInput as missing:
            problems += missing.problems
    if problems:
        raise InvalidInput(problems)
    assert op is not None
    assert rule is not None
    split = m.split_output(output.amount, rule)
    if basis is CostBasis.FAIR_VALUE:
        assert output.fair_value_usd is not None
        total = m.fair_value_cost(output.fair_value_usd, rate)
    else:
        total = m.production_cost(output.cost_kzt, rate)
    draft, accounts = _output_draft(op, output, split, total, today)
    ensure_accounts(uow, reserve, accounts, actor=actor)
    posted = post_in(uow, reserve, [draft], actor=actor, action="intake.mining")[0]
    recorded = m.RecordedOutput(
        replace(output, kzt_per_usd=rate), split, basis.value, total.usd, policy.sha256, posted.seq
    )
    uow.mining.add_output(recorded, by=actor, at=reserve.clock())
    details = {
        "amount": str(output.amount),
        "to_sell": str(split.to_sell),
        "to_retain": str(split.to_retain),
        "rule_from": rule.effective_from.isoformat(),
        "cost_basis": basis.value,
        "cost_usd": str(total.usd),
        "policy_sha256": policy.sha256,
        "entry_seq": str(posted.seq),
    }
    record_now(uow, reserve, actor, "mining.output", where, details)
    return OutputRecorded(output.operation, output.period, split, posted.seq, True)


def _output_draft(
    op: MiningOperation, output: MiningOutput, split: OutputSplit, total: m.Cost, today: date
) -> tuple[EntryDraft, list[Account]]:
    """The month's lots (skipping an empty one) and their income, and the accounts they use."""
    first, last = m.period_bounds(output.period)
    period, source = output.period, f"{op.code}/{output.period}"
    sell_cost, retain_cost = m.split_cost(total, split)
    legs = [
        PostingDraft(account, op.asset, units, opens=LotOpening(
            "mining", source, cost.usd, cost.kzt, lot_id=lot, acquired_on=last
        ))
        for account, units, cost, lot in (
            (m.for_sale_account(op), split.to_sell, sell_cost, m.sell_lot(op.code, period)),
            (m.retained_account(op), split.to_retain, retain_cost, m.retain_lot(op.code, period)),
        )
        if units
    ]  # fmt: skip
    legs.append(PostingDraft(m.mining_income(op), op.asset, -output.amount))
    txids = ";".join(output.payout_txids)
    if len(txids) > MAX_TXID_REF:
        txids = f"{output.payout_txids[0]};+{len(output.payout_txids) - 1} more"
    rule = split.rule
    draft = EntryDraft(
        f"mining:{op.code}:{period}",
        today,
        "mining",
        f"Mined by {op.code} in {period}; {rule.sell_share:%} for sale under the rule of "
        f"{rule.effective_from}",
        tuple(legs),
        {
            "operation": op.code,
            "period": period,
            "payout_txids": txids,
            "rule_from": rule.effective_from.isoformat(),
            "sell_share": decimal_text(rule.sell_share),
        },
    )
    return draft, [Account(leg.account, op.fund, first) for leg in legs]


# -- sales ----------------------------------------------------------------------------------
def record_sale(reserve: Reserve, sale: MiningSale, *, actor: str) -> SaleRecorded:
    """Book a sale of a month's for-sale units through a licensed venue, once per (venue, ref):
    the units leave the lot, the USD proceeds less the fee enter the fund's cash."""
    where = f"sale {sale.venue} {sale.ref}"
    policy = policy_in_force(reserve)
    with reserve.writing() as uow:
        require_role(uow, actor, INTAKE_ROLES, "recording a mining sale")
        decimals = {code: a.decimals for code, a in uow.ledger.assets().items()}
        earlier = uow.mining.sale(sale.venue, sale.ref)
        if earlier is not None:
            if earlier.sale != sale:
                raise Conflict.one(
                    where, "ref", f"already recorded with other details (entry {earlier.entry_seq})"
                )
            op = uow.mining.operation(sale.operation)
            assert op is not None
            return _sale_recorded(earlier, decimals[op.asset], created=False)
        problems: list[Problem] = []
        op = uow.mining.operation(sale.operation)
        if op is None:
            problems.append(_unknown_operation(where, sale.operation))
        digits = decimals[op.asset] if op is not None else None
        today = reserve.clock().date()
        problems += m.sale_problems(sale, decimals=digits, today=today, where=where)
        problems += policy.policy.venue_problems(sale.venue, sale.sold_on, where=where)
        lot = None
        if op is not None and m.PERIOD.match(sale.period):
            lot, short = _lot_left(uow, op, sale, where)
            problems += short
        if problems:
            raise InvalidInput(problems)
        assert op is not None
        assert lot is not None
        assert digits is not None
        cost = m.cents(lot.cost_of(sale.quantity)[0])
        realised = sale.proceeds_usd(digits) - cost
        draft = _sale_draft(op, sale, digits, today)
        ensure_accounts(
            uow, reserve, [Account(p.account, op.fund, sale.sold_on) for p in draft.postings],
            actor=actor,
        )  # fmt: skip
        posted = post_in(uow, reserve, [draft], actor=actor, action="intake.mining-sale")[0]
        recorded = m.RecordedSale(sale, cost, realised, policy.sha256, posted.seq)
        uow.mining.add_sale(recorded, by=actor, at=reserve.clock())
        details = {
            "operation": sale.operation,
            "period": sale.period,
            "quantity": str(sale.quantity),
            "gross_usd": str(sale.gross_usd(digits)),
            "fee_usd": str(sale.fee_usd),
            "cost_usd": str(cost),
            "realised_usd": str(realised),
            "policy_sha256": policy.sha256,
            "entry_seq": str(posted.seq),
        }
        record_now(uow, reserve, actor, "mining.sale", where, details)
        uow.commit()
    return _sale_recorded(recorded, digits, created=True)


def _lot_left(
    uow: UnitOfWork, op: MiningOperation, sale: MiningSale, where: str
) -> tuple[Lot | None, list[Problem]]:
    """The month's for-sale lot, and a problem unless it still holds the quantity sold."""
    if uow.mining.output(op.code, sale.period) is None:
        reason = f"{op.code} has no output recorded for {sale.period}"
        return None, [Problem(where, "period", reason)]
    wanted = m.sell_lot(op.code, sale.period)
    held = uow.ledger.holdings_of(m.for_sale_account(op), op.asset)
    lot, left = next(((h, n) for h, n, _a in held if h.lot_id == wanted), (None, 0))
    if sale.quantity <= left:
        return lot, []
    units = format_units(left, uow.ledger.assets()[op.asset].decimals)
    reason = f"only {units} {op.asset} of the period's for-sale units are left"
    return lot, [Problem(where, "quantity", reason)]


def _usd_cents(amount: Decimal) -> int:
    return round_to_base_units(amount, USD_DECIMALS)


def _sale_draft(op: MiningOperation, sale: MiningSale, decimals: int, today: date) -> EntryDraft:
    """Units out of the month's lot into trading equity; USD in cents: gross out of trading
    equity, gross less fee into cash, the fee to trading expenses (empty legs skipped)."""
    gross = sale.gross_usd(decimals)
    trading = m.trading_equity(op.fund)
    legs = [
        PostingDraft(m.for_sale_account(op), op.asset, -sale.quantity,
                     lot=m.sell_lot(op.code, sale.period)),
        PostingDraft(trading, op.asset, sale.quantity),
        PostingDraft(trading, USD, -_usd_cents(gross)),
        PostingDraft(m.usd_cash(op.fund), USD, _usd_cents(gross - sale.fee_usd)),
        PostingDraft(m.trading_fees(op.fund), USD, _usd_cents(sale.fee_usd)),
    ]  # fmt: skip
    return EntryDraft(
        f"mining-sale:{sale.venue}:{sale.ref}",
        today,
        "mining-sale",
        f"{op.code} {sale.period}: sold on {sale.venue} on {sale.sold_on}",
        tuple(leg for leg in legs if leg.amount),
        {
            "operation": op.code,
            "period": sale.period,
            "venue": sale.venue,
            "ref": sale.ref,
            "sold_on": sale.sold_on.isoformat(),
            "price_usd": str(sale.price_usd),
        },
    )


def _sale_recorded(recorded: m.RecordedSale, decimals: int, *, created: bool) -> SaleRecorded:
    sale = recorded.sale
    return SaleRecorded(
        sale.venue,
        sale.ref,
        recorded.entry_seq,
        sale.gross_usd(decimals),
        sale.proceeds_usd(decimals),
        recorded.cost_usd,
        recorded.realised_usd,
        created,
    )


# -- reading --------------------------------------------------------------------------------
def list_operations(reserve: Reserve) -> list[MiningOperation]:
    with reserve.reading() as uow:
        return uow.mining.operations()


def get_operation(reserve: Reserve, code: str) -> MiningOperation:
    with reserve.reading() as uow:
        op = uow.mining.operation(code)
    if op is None:
        raise NotFound([_unknown_operation(f"operation {code}", code)])
    return op


def list_outputs(reserve: Reserve, *, operation: str | None = None) -> list[m.RecordedOutput]:
    with reserve.reading() as uow:
        return uow.mining.outputs(operation=operation)


def rules_in_force(reserve: Reserve) -> PolicyInForce:
    """The sale rules, licensed venues and cost basis as the policy file says now."""
    return policy_in_force(reserve)


def period_report(
    reserve: Reserve,
    *,
    operation: str | None = None,
    start: str | None = None,
    end: str | None = None,
) -> list[m.PeriodLine]:
    """Per operation and month from ``start`` to ``end`` (``YYYY-MM``, inclusive): output,
    the rule's required sale, what was sold, proceeds and realised result; short months flagged.
    """
    problems = [
        Problem("report", name, f"{value!r} is not a month written YYYY-MM")
        for name, value in (("from", start), ("to", end))
        if value is not None and not m.PERIOD.match(value)
    ]
    if problems:
        raise InvalidInput(problems)
    with reserve.reading() as uow:
        ops = {op.code: op for op in uow.mining.operations()}
        if operation is not None and operation not in ops:
            raise NotFound([_unknown_operation("report", operation)])
        decimals = {code: a.decimals for code, a in uow.ledger.assets().items()}
        outputs = uow.mining.outputs(operation=operation, start=start, end=end)
        sales = uow.mining.sales(operation=operation, start=start, end=end)
    assets = {code: op.asset for code, op in ops.items()}
    return m.period_lines(outputs, sales, assets=assets, decimals=decimals)


def _unknown_operation(where: str, code: str) -> Problem:
    return Problem(where, "operation", f"{code!r} is not a registered mining operation")
