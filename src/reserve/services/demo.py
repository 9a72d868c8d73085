"""The demo story, told through the same use cases as the CLI, day by day on a story clock.

Three seizure cases of 2023-2024 worth about USD 350M of bitcoin at the seizure dates (real
closes): each seized with a small test transfer first, restrained, then forfeited and taken into
SFDA at the fair value of the forfeiture date, one of them after part was restituted to victims.
A state mining site reports monthly output through 2024 and January 2025, sells the share the
rule demands (50% in 2024, 75% from 2025) through licensed venues and keeps the rest; one month
falls short and the period report flags it. The investment committee approves BNB for ALEM and a
USD 300M conversion of FX reserves into BTC, bought in slices over 30 days.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import partial
from typing import Final

from reserve.bootstrap import Reserve
from reserve.core.money import to_base_units
from reserve.governance.people import OrgUnit, Role, User
from reserve.intake.cases import SeizedAsset, SeizureCase
from reserve.intake.legal import LegalOrder, LegalState
from reserve.intake.mining import MiningOperation, MiningOutput, MiningSale, rule_on, split_output
from reserve.intake.purchases import Fill, FundingSource, OrderStatus, Proposal
from reserve.ledger.accounts import NETWORK_FEES, Account
from reserve.ledger.model import EntryDraft, PostingDraft
from reserve.services import demo_custody
from reserve.services.demo_market import CENT, StoryClock, StoryMarket, whole_units_for
from reserve.services.governance import add_unit, add_user, verify_audit
from reserve.services.intake_cases import open_case, record_seizure
from reserve.services.intake_context import policy_in_force
from reserve.services.intake_mining import record_output, record_sale, register_operation
from reserve.services.intake_orders import approve_order, execute_order, propose_order
from reserve.services.intake_purchases import (
    approve_purchase,
    close_purchase,
    propose_purchase,
    record_fill,
)
from reserve.services.integrity import ChainReport, verify_ledger
from reserve.services.ledger import balances, open_accounts, post_entries

S = LegalState
BTC: Final = 100_000_000
START: Final = date(2023, 2, 1)
FORFEITED_BTC: Final = "Assets:Reserve:SFDA:BTC:Forfeited"
VAULT: Final = "Assets:Reserve:SFDA:BTC:vault-astana-1"
ADMIN, INTAKE, LEGAL, CUSTODIAN = "admin", "intake1", "legal1", "custody1"
APPROVERS: Final = ("legal2", "legal3")
COMMITTEE: Final = tuple(f"ic{i}" for i in range(1, 6))

Event = tuple[date, Callable[[], object]]


@dataclass(frozen=True)
class DemoResult:
    events: int
    chain: ChainReport
    audit_records: int
    seized_usd: dict[str, Decimal]  # per case, at the seizure date's close


@dataclass(frozen=True)
class CaseStory:
    case: SeizureCase
    seized_on: date
    test_units: str
    main_units: str
    restrained_on: date
    forfeited_on: date
    transferred_on: date
    restituted: tuple[date, str, tuple[str, ...]] | None = None
    network_fee: int = 15_000  # satoshi, of the move into the vault after the transfer


VICTIMS: Final = "Victims of the scheme: 1,312 claimants under judgment 2-455/2024"
CASES: Final = (
    CaseStory(
        SeizureCase(
            "2023-017", "Financial Monitoring Agency", "Astana City Court",
            "Darknet marketplace operators", date(2023, 2, 10),
        ),
        date(2023, 2, 14), "0.001", "4150", date(2023, 3, 1), date(2024, 2, 20), date(2024, 3, 4),
    ),
    CaseStory(
        SeizureCase(
            "2023-088", "Financial Monitoring Agency", "Almaty City Court",
            "Investment fraud (pyramid scheme)", date(2023, 10, 5),
        ),
        date(2023, 10, 10), "0.0005", "3100", date(2023, 10, 20), date(2024, 11, 12),
        date(2024, 11, 15),
        (date(2024, 6, 20), "900", (VICTIMS,)), 18_400,
    ),
    CaseStory(
        SeizureCase(
            "2024-031", "Anti-Corruption Agency", "Specialised Inter-District Criminal Court",
            "Proceeds of embezzlement", date(2024, 4, 15),
        ),
        date(2024, 4, 18), "0.001", "2700", date(2024, 5, 2), date(2025, 1, 22), date(2025, 1, 27),
        network_fee=21_300,
    ),
)  # fmt: skip

MINE: Final = MiningOperation(
    "EKB-1", "Ekibastuz, Pavlodar region", "State energy holding, mining unit", Decimal(25000)
)
MONTHLY_BTC: Final = (
    "36.21",
    "35.08",
    "34.77",
    "30.52",
    "15.31",
    "14.96",
    "14.58",
    "14.40",
    "13.97",
    "13.85",
    "13.52",
    "13.31",
    "12.84",
)  # fmt: skip 2024-01 .. 2025-01; the April 2024 halving halves the output
SHORT_MONTH: Final = "2024-09"  # sold only 80% of what the rule demands: the report flags it
VENUES: Final = ("AIX", "ATAIX", "INTEBIX")


def _digest(*parts: str) -> str:
    return hashlib.sha256(":".join(parts).encode()).hexdigest()


def _address(*parts: str) -> str:
    return "bc1q" + _digest("address", *parts)[:38]


def cast(reserve: Reserve) -> None:
    """Units and users: an administrator first (bootstrap), then everyone else."""
    for code, name in (
        ("ADM", "Administration"),
        ("OPS", "Intake and operations"),
        ("LEGAL", "Legal department"),
        ("IC", "Investment committee"),
    ):
        add_unit(reserve, OrgUnit(code, name), actor=ADMIN)
    people = [(ADMIN, "Administrator", "ADM", Role.ADMINISTRATOR)]
    people.append((INTAKE, "Intake officer", "OPS", Role.INTAKE_OFFICER))
    people.append((CUSTODIAN, "Custodian", "OPS", Role.CUSTODIAN))
    people += [(f"legal{i}", f"Legal officer {i}", "LEGAL", Role.LEGAL_OFFICER) for i in (1, 2, 3)]
    people += [(m, f"Committee member {m[2:]}", "IC", Role.COMMITTEE_MEMBER) for m in COMMITTEE]
    for username, title, unit, role in people:
        add_user(reserve, User(username, title, unit, frozenset({role})), actor=ADMIN)


def case_events(reserve: Reserve, market: StoryMarket, story: CaseStory) -> list[Event]:
    number = story.case.number
    held = to_base_units(story.test_units, 8) + to_base_units(story.main_units, 8)

    def seize() -> None:
        open_case(reserve, story.case, actor=INTAKE)
        for vout, units in enumerate((story.test_units, story.main_units)):
            at = datetime.combine(story.seized_on, time(8 + 3 * vout), UTC)
            asset = SeizedAsset(
                number, "bitcoin", "BTC", to_base_units(units, 8), _digest(number, "seizure"),
                vout, _address(number, "suspect"), _address(number, "state", str(vout)), at,
            )  # fmt: skip
            usd, kzt = market.value("BTC", Decimal(units), story.seized_on)
            record_seizure(reserve, asset, fair_value_usd=usd, fair_value_kzt=kzt, actor=INTAKE)

    def order(
        frm: S, to: S, amount: int, day: date, ref: str, *,
        recipients: tuple[str, ...] = (), **execution: object,
    ) -> None:  # fmt: skip
        def run() -> None:
            draft = LegalOrder(
                number, "BTC", amount, frm, to, ref, day, _digest("document", number, ref),
                LEGAL, frozenset(), recipients,
            )  # fmt: skip
            recorded = propose_order(reserve, draft, actor=LEGAL)
            for approver in APPROVERS:
                approve_order(reserve, recorded.id, actor=approver)
            execute_order(reserve, recorded.id, actor=LEGAL, **execution)  # type: ignore[arg-type]

        events.append((day, run))

    events: list[Event] = [(story.seized_on, seize)]
    order(S.SEIZED, S.RESTRAINED, held, story.restrained_on, f"{number}/restraint")
    if story.restituted is not None:
        day, units, recipients = story.restituted
        returned = to_base_units(units, 8)
        order(
            S.RESTRAINED, S.RESTITUTED, returned, day, f"{number}/restitution",
            recipients=recipients,
        )  # fmt: skip
        held -= returned
    order(S.RESTRAINED, S.FORFEITED, held, story.forfeited_on, f"{number}/forfeiture")
    usd, kzt = market.value("BTC", Decimal(held) / BTC, story.forfeited_on)
    order(
        S.FORFEITED, S.TRANSFERRED_TO_RESERVE, held, story.transferred_on, f"{number}/transfer",
        fund="SFDA", fund_account=FORFEITED_BTC, fair_value_usd=usd, fair_value_kzt=kzt,
    )  # fmt: skip
    moved_on = story.transferred_on + timedelta(days=2)
    events.append(to_vault(reserve, FORFEITED_BTC, moved_on, number, story.network_fee))
    return events


def to_vault(reserve: Reserve, prefix: str, day: date, key: str, fee: int) -> Event:
    """Everything under ``prefix`` moves to SFDA's cold vault, the network ``fee`` (satoshi)
    paid from the coins moved."""

    def run() -> None:
        open_accounts(
            reserve, [Account(VAULT, "SFDA", START), Account(NETWORK_FEES, None, START)],
            actor=CUSTODIAN,
        )  # fmt: skip
        found = balances(reserve, account_prefix=prefix, asset="BTC")
        total = sum(line.amount for line in found)
        legs = [PostingDraft(line.account, "BTC", -line.amount) for line in found]
        legs += [
            PostingDraft(VAULT, "BTC", total - fee),
            PostingDraft(NETWORK_FEES, "BTC", fee),
        ]
        memo = "Withdrawal to the cold vault; the network fee paid from the coins moved"
        draft = EntryDraft(f"custody:{key}", day, "transfer", memo, tuple(legs), {"to": VAULT})
        post_entries(reserve, [draft], actor=CUSTODIAN)
        demo_custody.arrive(reserve, key, total - fee, CUSTODIAN)

    return (day, run)


def mining_events(reserve: Reserve, market: StoryMarket) -> list[Event]:
    rules = policy_in_force(reserve).policy.sale_rules()
    events: list[Event] = [(START, lambda: register_operation(reserve, MINE, actor=INTAKE))]
    for index, units in enumerate(MONTHLY_BTC):
        first = date(2024 + index // 12, index % 12 + 1, 1)
        period, following = f"{first:%Y-%m}", (first + timedelta(days=32)).replace(day=1)
        amount = to_base_units(units, 8)
        energy = Decimal(14400) + index * 11
        output = MiningOutput(
            MINE.code, period, amount, (_digest("payout", period),), energy,
            energy * MINE.tariff_kzt_per_mwh, market.kzt_per_usd(following - timedelta(days=1)),
        )  # fmt: skip
        record = partial(record_output, reserve, output, actor=INTAKE)
        events.append((following + timedelta(days=2), record))
        rule = rule_on(rules, first)
        assert rule is not None
        to_sell = split_output(amount, rule).to_sell
        if period == SHORT_MONTH:
            to_sell = to_sell * 4 // 5
        sold_on = following + timedelta(days=4)
        price = (market.close("BTC", sold_on) * Decimal("0.998")).quantize(CENT)
        gross = (Decimal(to_sell) / BTC * price).quantize(CENT)
        sale = MiningSale(
            MINE.code, period, VENUES[index % 3], f"EKB-{period}", to_sell, price,
            (gross * Decimal("0.001")).quantize(CENT), sold_on,
        )  # fmt: skip
        events.append((sold_on, partial(record_sale, reserve, sale, actor=INTAKE)))
    return events


def purchase_events(
    reserve: Reserve,
    market: StoryMarket,
    proposal: Proposal,
    approvers: tuple[str, ...],
    slices: list[date],
    slice_usd: Decimal,
) -> list[Event]:
    """A proposal approved by ``approvers``, bought in equal slices at the day's close."""
    order = proposal.order_id
    decimals = 8 if proposal.asset == "BTC" else 18
    events: list[Event] = [
        (
            proposal.window_start,
            lambda: propose_purchase(reserve, proposal, actor=proposal.proposer),
        )
    ]
    events += [
        (proposal.window_start, partial(approve_purchase, reserve, order, actor=a))
        for a in approvers
    ]
    fee_rate = Decimal("0.0005")
    for number, day in enumerate(slices, start=1):
        price = (market.close(proposal.asset, day) * Decimal("1.0005")).quantize(CENT)
        units = whole_units_for(slice_usd, price, fee_rate)
        fee = (units * price * fee_rate).quantize(CENT)
        fill = Fill(
            VENUES[number % 3], to_base_units(str(units), decimals), price, fee, day,
            f"{order}-{number:02d}", market.kzt_per_usd(day),
        )  # fmt: skip
        events.append((day, partial(record_fill, reserve, order, fill, actor=INTAKE)))
    closing = proposal.window_end
    events.append(
        (
            closing,
            lambda: close_purchase(
                reserve, order, OrderStatus.COMPLETED, "all slices filled", actor=proposal.proposer
            ),
        )
    )
    return events


def story_events(reserve: Reserve, market: StoryMarket) -> list[Event]:
    events: list[Event] = [(START, lambda: cast(reserve))]
    events.append((START, lambda: demo_custody.setup(reserve, ADMIN)))
    for story in CASES:
        events += case_events(reserve, market, story)
    events += mining_events(reserve, market)
    alem = Proposal(
        "ALEM-2025-001", FundingSource.FX, Decimal(5_000_000), "BNB", "ALEM",
        date(2025, 1, 6), date(2025, 1, 31), "ic1",
    )  # fmt: skip
    alem_slices = [date(2025, 1, 8), date(2025, 1, 15), date(2025, 1, 22)]
    events += purchase_events(
        reserve, market, alem, ("ic2", "ic3", "ic4"), alem_slices, Decimal(1_660_000)
    )
    sfda = Proposal(
        "SFDA-2025-001", FundingSource.FX, Decimal(300_000_000), "BTC", "SFDA",
        date(2025, 1, 13), date(2025, 2, 11), "ic2",
    )  # fmt: skip
    sfda_slices = [date(2025, 1, 13) + timedelta(days=3 * i) for i in range(10)]
    events += purchase_events(
        reserve, market, sfda, ("ic3", "ic4", "ic5"), sfda_slices, Decimal(29_950_000)
    )
    venues = "Assets:Reserve:SFDA:BTC:Venue"
    last_move = date(2025, 2, 12)
    events.append(to_vault(reserve, venues, last_move, sfda.order_id, 27_650))
    events += custody_events(reserve, last_move)
    return sorted(events, key=lambda event: event[0])


def custody_events(reserve: Reserve, last_move: date) -> list[Event]:
    """The transfer policy comes into force, then a cold-to-warm transfer is requested,
    approved, signed offline by three key holders in three cities and verified."""
    rules = reserve.settings.transfer_policy
    policy_day, request_day, signing_day = demo_custody.custody_days(last_move)
    return [
        (policy_day, lambda: demo_custody.policy(reserve, rules, ADMIN)),
        (request_day, lambda: demo_custody.request(reserve)),
        (signing_day, lambda: demo_custody.sign_and_verify(reserve)),
    ]


def run_story(reserve: Reserve) -> DemoResult:
    """Play the story in date order on ``reserve``, on the story's clock, then verify the
    ledger and the audit log."""
    market = StoryMarket(reserve.settings.data_dir)
    events = story_events(reserve, market)
    seized_usd = {
        story.case.number: sum(
            (market.value("BTC", Decimal(u), story.seized_on)[0]
             for u in (story.test_units, story.main_units)),
            Decimal(0),
        )
        for story in CASES
    }  # fmt: skip
    clock, kept = StoryClock(START), reserve.clock
    reserve.clock = clock
    try:
        for day, event in events:
            clock.on(day)
            event()
    finally:
        reserve.clock = kept
    chain, audit = verify_ledger(reserve), verify_audit(reserve)
    return DemoResult(len(events), chain, audit.records, seized_usd)
