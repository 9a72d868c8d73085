"""The ledger entries that carry out legal orders leaving custody: transfer, return, sale.

Each is one entry keyed by its order (``legal-order:<id>``), so an order books once. The units
always leave the case's custody account against the case's custody equity; what they become
depends on the order: a new lot in a fund (transfer), nothing the reserve keeps (return,
restitution), or US dollars (sale). An interlocutory sale's proceeds stay the case's: they sit in
the case's custody cash, in no fund, under the same hold as the units they replace. A sale after
forfeiture pays its proceeds into the fund's cash against the fund's forfeiture equity. The
venue's fee is a trading fee of the book that received the proceeds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from typing import Final

from reserve.bootstrap import Reserve
from reserve.core.errors import Problem
from reserve.core.money import (
    canonical_decimal,
    decimal_text,
    format_units,
    round_to_base_units,
    to_whole_units,
)
from reserve.intake.custody_accounts import case_of, custody_account, custody_equity
from reserve.intake.legal import SALES, LegalState, RecordedOrder, order_subject
from reserve.intake.policy import IntakePolicy
from reserve.ledger.accounts import Account
from reserve.ledger.model import EntryDraft, LotOpening, PostingDraft
from reserve.services.intake_context import ensure_accounts
from reserve.storage.uow import UnitOfWork

USD: Final = "USD"
MAX_TEXT: Final = 200
CUSTODY_TRADING_FEES: Final = "Expenses:Fees:Trading:Custody"
"""Fees of interlocutory sales, in no fund: the sibling of each fund's trading-fee account, so
every trading-fee account is in exactly one book (the bare parent was once opened in a fund's)."""


def forfeiture_equity(fund: str) -> str:
    """The counterpart of forfeited units in a fund's book, so each fund's book balances."""
    return f"Equity:Forfeiture:{fund}"


def fund_cash(fund: str) -> str:
    return f"Assets:Reserve:{fund}:Cash:USD"


def fund_trading_fees(fund: str) -> str:
    return f"Expenses:Fees:Trading:{fund}"


@dataclass(frozen=True)
class Sale:
    """An order's units sold through a licensed venue; USD amounts in cents."""

    venue: str
    sale_ref: str
    price_usd: Decimal  # per whole unit
    gross_cents: int  # amount x price, to the cent
    fee_cents: int

    @property
    def net_cents(self) -> int:
        return self.gross_cents - self.fee_cents

    def refs(self) -> dict[str, str]:
        """What the entry's refs and the audit record keep of the sale (no table holds it)."""
        return {
            "venue": self.venue,
            "sale_ref": self.sale_ref,
            "price_usd": decimal_text(self.price_usd),
            "gross_usd": format_units(self.gross_cents, 2),
            "fee_usd": format_units(self.fee_cents, 2),
            "net_usd": format_units(self.net_cents, 2),
        }


def gross_cents(amount: int, decimals: int, price_usd: Decimal) -> int:
    """``amount`` base units at ``price_usd`` per whole unit, to the cent (half to even)."""
    with localcontext() as ctx:
        ctx.prec = 100  # exact for any amount a NUMERIC(78,0) holds at any sane price
        return round_to_base_units(to_whole_units(amount, decimals) * price_usd, 2, ROUND_HALF_EVEN)


def cents(value: Decimal) -> int | None:
    """``value`` in cents, or None when it is not a whole number of cents."""
    if not value.is_finite():
        return None
    exponent = canonical_decimal(value).as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2:
        return None
    with localcontext() as ctx:
        ctx.prec = 100
        return int(value.scaleb(2))


def sale_problems(
    uow: UnitOfWork,
    policy: IntakePolicy,
    recorded: RecordedOrder,
    *,
    day: date,
    fund: str | None,
    venue: str | None,
    sale_ref: str | None,
    price_usd: Decimal | None,
    fee_usd: Decimal | None,
) -> list[Problem]:
    """Every reason the sale cannot be booked as given, on ``day``."""
    order, where = recorded.order, order_subject(recorded.id)
    problems: list[Problem] = []

    def bad(field: str, reason: str) -> None:
        problems.append(Problem(where, field, reason))

    if venue is None:
        bad("venue", "a sale names the licensed venue it went through")
    else:
        problems += policy.venue_problems(venue, day, where=where)
    if sale_ref is None or not sale_ref.strip():
        bad("sale_ref", "a sale names the venue's trade id")
    elif len(sale_ref) > MAX_TEXT:
        bad("sale_ref", f"is longer than {MAX_TEXT} characters")
    elif venue is not None:
        earlier = _sale_booked(uow, venue, sale_ref)
        if earlier is not None:
            bad("sale_ref", f"{venue} trade {sale_ref} is already booked for order {earlier}")
    priced = price_usd is not None and price_usd.is_finite() and price_usd > 0
    if price_usd is None:
        bad("price_usd", "a sale needs its price per whole unit")
    elif not priced:
        bad("price_usd", f"{price_usd} is not a positive price")
    fee = None if fee_usd is None else cents(fee_usd)
    if fee_usd is None:
        bad("fee_usd", "a sale needs the venue's fee (0 if it charged none)")
    elif fee is None:
        bad("fee_usd", f"{fee_usd} is not a whole number of cents; USD is booked to the cent")
    elif fee < 0:
        bad("fee_usd", "must not be negative")
    elif priced:
        assert price_usd is not None
        decimals = uow.ledger.assets()[order.asset].decimals
        gross = gross_cents(order.amount, decimals, price_usd)
        if fee > gross:
            bad("fee_usd", f"{fee_usd} exceeds the gross proceeds {format_units(gross, 2)}")
    if order.to_state is LegalState.SOLD:
        if fund is None:
            bad("fund", "a sale after forfeiture names the fund that receives the proceeds")
        elif fund not in uow.ledger.funds():
            bad("fund", f"unknown fund {fund!r}")
    if not problems:
        problems += book_problems(uow, sale_accounts(recorded, fund, day), where)
    return problems


def priced_sale(
    uow: UnitOfWork,
    recorded: RecordedOrder,
    *,
    venue: str,
    sale_ref: str,
    price: Decimal,
    fee: Decimal,
) -> Sale:
    """The sale of the order's units, from details ``sale_problems`` found nothing wrong with."""
    decimals = uow.ledger.assets()[recorded.order.asset].decimals
    fee_cents = cents(fee)
    assert fee_cents is not None
    gross = gross_cents(recorded.order.amount, decimals, price)
    return Sale(venue, sale_ref, price, gross, fee_cents)


def _sale_booked(uow: UnitOfWork, venue: str, sale_ref: str) -> int | None:
    """The order whose executed sale booked this venue trade already, if any."""
    for other in uow.intake.orders():
        if other.order.to_state in SALES and other.entry_seq is not None:
            entry = uow.ledger.entry(other.entry_seq)
            if entry and (entry.refs.get("venue"), entry.refs.get("sale_ref")) == (venue, sale_ref):
                return other.id
    return None


def sale_accounts(recorded: RecordedOrder, fund: str | None, day: date) -> list[Account]:
    """The accounts a sale books proceeds and fee to, each in the book it must belong to."""
    order = recorded.order
    opened = min(day, order.issued_on)
    if order.to_state is LegalState.INTERLOCUTORY_SOLD:
        return [
            Account(custody_account(order.case, USD), None, opened),
            Account(CUSTODY_TRADING_FEES, None, opened),
        ]
    assert fund is not None
    return [
        Account(fund_cash(fund), fund, opened),
        Account(fund_trading_fees(fund), fund, opened),
        Account(forfeiture_equity(fund), fund, opened),
    ]


def book_problems(uow: UnitOfWork, accounts: Sequence[Account], where: str) -> list[Problem]:
    """An account already open in another book would carry the money into the wrong book."""
    known = uow.ledger.accounts()
    problems = []
    for account in accounts:
        earlier = known.get(account.name)
        if earlier is not None and earlier.fund != account.fund:
            found = f"fund {earlier.fund}" if earlier.fund else "no fund"
            wanted = f"fund {account.fund}" if account.fund else "no fund"
            problems.append(
                Problem(where, "account", f"{account.name} is open in {found}, not in {wanted}")
            )
    return problems


def sale_draft(
    uow: UnitOfWork,
    reserve: Reserve,
    recorded: RecordedOrder,
    sale: Sale,
    fund: str | None,
    *,
    actor: str,
) -> EntryDraft:
    """The units leave custody; the gross proceeds, less the fee, land in the case's custody
    cash (interlocutory sale) or the fund's cash (sale after forfeiture)."""
    order = recorded.order
    day = reserve.clock().date()
    if order.to_state is LegalState.INTERLOCUTORY_SOLD:
        cash, fees = custody_account(order.case, USD), CUSTODY_TRADING_FEES
        equity, kind, whose = custody_equity(order.case), "interlocutory-sale", "kept for the case"
    else:
        assert fund is not None
        cash, fees = fund_cash(fund), fund_trading_fees(fund)
        equity, kind, whose = forfeiture_equity(fund), "sale", f"paid to {fund}"
    proceeds = [
        p
        for p in (
            PostingDraft(cash, USD, sale.net_cents),
            PostingDraft(fees, USD, sale.fee_cents),
            PostingDraft(equity, USD, -sale.gross_cents),
        )
        if p.amount  # a zero fee (or dust proceeds) books no leg
    ]
    used = {p.account for p in proceeds}
    accounts = [a for a in sale_accounts(recorded, fund, day) if a.name in used]
    ensure_accounts(uow, reserve, accounts, actor=actor)
    refs = {"case": order.case, "order": str(recorded.id), "reference": order.reference}
    return EntryDraft(
        order_subject(recorded.id),
        day,
        kind,
        f"Case {order.case}: sold on {sale.venue} under {order.reference}, proceeds {whose}",
        (
            PostingDraft(custody_account(order.case, order.asset), order.asset, -order.amount),
            PostingDraft(custody_equity(order.case), order.asset, order.amount),
            *proceeds,
        ),
        {**refs, **sale.refs(), **({"fund": fund} if fund else {})},
    )


def transfer_problems(
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


def transfer_draft(
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
        order_subject(recorded.id),
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


def return_draft(recorded: RecordedOrder, day: date) -> EntryDraft:
    """Units leave custody to the named recipients: the case holds that much less for them."""
    order = recorded.order
    return EntryDraft(
        order_subject(recorded.id),
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
