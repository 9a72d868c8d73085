"""A seeded synthetic workload: intake, lot-preserving transfers between wallets, fees, disposals.

Three assets (BTC, ETH with 18 decimals, USDT) in twelve wallets. The same seed always gives the
same drafts, so benchmarks, property checks and the Beancount cross-check replay one history.
Every draft is valid against the ledger that the drafts before it built.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Final

from reserve.ledger.accounts import Account
from reserve.ledger.model import EntryDraft, LotOpening, PostingDraft

ASSETS: Final = (
    ("BTC", 8, Decimal("30000")),
    ("ETH", 18, Decimal("2000")),
    ("USDT", 6, Decimal(1)),
)
WALLETS: Final = tuple(f"Assets:Reserve:SFDA:Wallet-{n:02d}" for n in range(1, 13))
INTAKE: Final = "Equity:Intake"
FEES: Final = "Expenses:Fees:Network"
DISPOSALS: Final = "Equity:Disposals"
KZT_PER_USD: Final = Decimal("450")


@dataclass(frozen=True)
class WorkloadShape:
    intake_percent: int = 25
    transfer_percent: int = 50  # the rest are disposals
    per_day: int = 50


def workload_accounts(start: date, fund: str | None = "SFDA") -> list[Account]:
    opened = start - timedelta(days=1)
    return [Account(w, fund, opened) for w in WALLETS] + [
        Account(name, None, opened) for name in (INTAKE, FEES, DISPOSALS)
    ]


def workload(
    count: int,
    *,
    seed: int = 7,
    start: date = date(2020, 1, 1),
    shape: WorkloadShape = WorkloadShape(),
) -> Iterator[EntryDraft]:
    """``count`` valid drafts; amounts never exceed what the source wallet holds."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not a secret
    held: dict[tuple[str, str], int] = {}
    funded: list[tuple[str, str]] = []
    for i in range(count):
        day = start + timedelta(days=i // shape.per_day)
        roll = rng.randrange(100)
        key = f"wl-{seed}-{i}"
        if not funded or roll < shape.intake_percent:
            wallet = rng.choice(WALLETS)
            code, decimals, price = rng.choice(ASSETS)
            amount = rng.randint(10 ** max(decimals - 3, 0), 50 * 10**decimals)
            cost = (Decimal(amount).scaleb(-decimals) * price).quantize(Decimal("0.01"))
            opening = LotOpening("purchase", f"order-{i}", cost, cost * KZT_PER_USD)
            postings: tuple[PostingDraft, ...] = (
                PostingDraft(wallet, code, amount, opens=opening),
                PostingDraft(INTAKE, code, -amount),
            )
            kind = "intake"
            if (wallet, code) not in held:
                funded.append((wallet, code))
            held[(wallet, code)] = held.get((wallet, code), 0) + amount
        else:
            source = rng.choice(funded)
            wallet, code = source
            amount = rng.randint(1, held[source])
            held[source] -= amount
            if held[source] == 0:
                funded.remove(source)
                del held[source]
            if roll < shape.intake_percent + shape.transfer_percent:
                target = rng.choice([w for w in WALLETS if w != wallet])
                fee = amount // 1000
                legs = [
                    PostingDraft(wallet, code, -amount),
                    PostingDraft(target, code, amount - fee),
                ]
                if fee:
                    legs.append(PostingDraft(FEES, code, fee))
                postings, kind = tuple(legs), "transfer"
                if (target, code) not in held:  # amount - fee >= 1: the fee is 0.1 %, rounded down
                    funded.append((target, code))
                held[(target, code)] = held.get((target, code), 0) + amount - fee
            else:
                postings = (
                    PostingDraft(wallet, code, -amount),
                    PostingDraft(DISPOSALS, code, amount),
                )
                kind = "disposal"
        yield EntryDraft(key, day, kind, f"{kind} {i}", postings)
