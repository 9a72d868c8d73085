"""The demo story, posted through the same JSON path as `reserve ledger post`.

Case 2023-017: bitcoin seized in two transfers (a small test transfer first, as field practice
demands) into the case's own custody account, then consolidated into the case's cold wallet with
the network fee paid from the seized coins; the case's units stay custodial, in no fund. A month
of state mining output retained by SFDA. USD 5M of FX reserves converted into BNB for ALEM.
Costs are the real closing prices and USD/KZT rates of the bundled data on each day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from reserve.adapters.price_files import close_on
from reserve.bootstrap import Reserve
from reserve.core.money import decimal_text
from reserve.ledger.accounts import Account
from reserve.ledger.entry_json import parse_entries
from reserve.services.integrity import ChainReport, verify_ledger
from reserve.services.ledger import list_assets, open_accounts, post_entries

CASE = "2023-017"
SEIZED = f"Assets:Custody:Seized:{CASE}:BTC"
SEIZED_COLD = f"Assets:Custody:Seized:{CASE}:BTC-cold"
CASE_EQUITY = f"Equity:Custody:{CASE}"
SFDA_VAULT = "Assets:Reserve:SFDA:BTC:vault-astana-1"
ALEM_BNB = "Assets:Reserve:ALEM:BNB:custody-aifc"
ALEM_USD = "Assets:Reserve:ALEM:Cash:USD"

ACCOUNTS = (
    (SEIZED, None),
    (SEIZED_COLD, None),
    (CASE_EQUITY, None),
    ("Expenses:Fees:Network", None),
    (SFDA_VAULT, "SFDA"),
    ("Income:Mining:SFDA", "SFDA"),
    (ALEM_USD, "ALEM"),
    (ALEM_BNB, "ALEM"),
    ("Equity:Conversion:FX", "ALEM"),
    ("Equity:Trading:ALEM", "ALEM"),
    ("Expenses:Fees:Trading", "ALEM"),
)


@dataclass(frozen=True)
class DemoResult:
    entries_posted: int
    chain: ChainReport


class _Prices:
    def __init__(self, data_dir: Path) -> None:
        self.dir = data_dir / "prices"

    def usd(self, asset: str, day: date) -> Decimal:
        return close_on(self.dir / f"{asset.lower()}_usd.csv", "close_usd", day)

    def kzt_per_usd(self, day: date) -> Decimal:
        return close_on(self.dir / "usd_kzt.csv", "kzt_per_usd", day)

    def lot(self, asset: str, units: str, day: date, source: str, ref: str) -> dict[str, str]:
        usd = (Decimal(units) * self.usd(asset, day)).quantize(Decimal("0.01"))
        kzt = (usd * self.kzt_per_usd(day)).quantize(Decimal("0.01"))
        return {
            "source": source,
            "ref": ref,
            "cost_usd": decimal_text(usd),
            "cost_kzt": decimal_text(kzt),
        }


def _leg(account: str, asset: str, amount: str, lot: Any = None) -> dict[str, Any]:
    leg: dict[str, Any] = {"account": account, "asset": asset, "amount": amount}
    if lot is not None:
        leg["lot"] = lot
    return leg


def story(prices: _Prices) -> list[dict[str, Any]]:
    """The opening story as JSON entries, the format of `reserve ledger post`."""
    seized_on, mined_on, bought_on = date(2023, 2, 14), date(2023, 3, 31), date(2023, 4, 12)
    bnb_units = "15600.25"
    bnb_cost = (Decimal(bnb_units) * prices.usd("BNB", bought_on)).quantize(Decimal("0.01"))
    trade_fee = (bnb_cost * Decimal("0.001")).quantize(Decimal("0.01"))
    txid = "4f1d0c5a9e2b7d36c1a8f0e4b2d9c7a65e3f1b0d8c6a4e2f0b9d7c5a3e1f0b2d"
    return [
        {
            "idempotency_key": f"seizure:{CASE}:test",
            "date": seized_on.isoformat(),
            "kind": "seizure",
            "memo": "Test transfer from the suspect's wallet before the rest",
            "refs": {"case": CASE, "txid": f"{txid}:0", "order": "Court order 2-114/2023"},
            "postings": [
                _leg(
                    SEIZED,
                    "BTC",
                    "0.001",
                    prices.lot("BTC", "0.001", seized_on, "seizure", f"{CASE}/{txid}:0"),
                ),
                _leg(CASE_EQUITY, "BTC", "-0.001"),
            ],
        },
        {
            "idempotency_key": f"seizure:{CASE}:main",
            "date": seized_on.isoformat(),
            "kind": "seizure",
            "memo": "Main transfer of the seized coins",
            "refs": {"case": CASE, "txid": f"{txid}:1", "order": "Court order 2-114/2023"},
            "postings": [
                _leg(
                    SEIZED,
                    "BTC",
                    "1250.5",
                    prices.lot("BTC", "1250.5", seized_on, "seizure", f"{CASE}/{txid}:1"),
                ),
                _leg(CASE_EQUITY, "BTC", "-1250.5"),
            ],
        },
        {
            "idempotency_key": f"custody:{CASE}:to-cold",
            "date": "2023-02-16",
            "kind": "transfer",
            "memo": "Consolidation into the case's cold wallet; fee from the case",
            "refs": {"case": CASE},
            "postings": [
                _leg(SEIZED, "BTC", "-1250.501"),
                _leg(SEIZED_COLD, "BTC", "1250.50085"),
                _leg("Expenses:Fees:Network", "BTC", "0.00015"),
            ],
        },
        {
            "idempotency_key": "mining:ekibastuz:2023-03",
            "date": mined_on.isoformat(),
            "kind": "mining",
            "memo": "March output of the Ekibastuz site, retained share",
            "refs": {"batch": "ekibastuz-2023-03"},
            "postings": [
                _leg(
                    SFDA_VAULT,
                    "BTC",
                    "3.25",
                    prices.lot("BTC", "3.25", mined_on, "mining", "ekibastuz-2023-03"),
                ),
                _leg("Income:Mining:SFDA", "BTC", "-3.25"),
            ],
        },
        {
            "idempotency_key": "conversion:alem:fx-2023-04",
            "date": bought_on.isoformat(),
            "kind": "conversion",
            "memo": "FX reserves allotted to the Alem Crypto Fund",
            "refs": {"decision": "IC-2023-04"},
            "postings": [
                _leg(ALEM_USD, "USD", "5000000.00"),
                _leg("Equity:Conversion:FX", "USD", "-5000000.00"),
            ],
        },
        {
            "idempotency_key": "purchase:alem:PO-2023-001",
            "date": bought_on.isoformat(),
            "kind": "purchase",
            "memo": "BNB bought on a licensed venue",
            "refs": {"order": "PO-2023-001", "venue": "AIFC licensed exchange"},
            "postings": [
                _leg(
                    ALEM_BNB,
                    "BNB",
                    bnb_units,
                    prices.lot("BNB", bnb_units, bought_on, "purchase", "PO-2023-001"),
                ),
                _leg("Equity:Trading:ALEM", "BNB", f"-{bnb_units}"),
                _leg("Equity:Trading:ALEM", "USD", decimal_text(bnb_cost)),
                _leg("Expenses:Fees:Trading", "USD", decimal_text(trade_fee)),
                _leg(ALEM_USD, "USD", f"-{decimal_text(bnb_cost + trade_fee)}"),
            ],
        },
    ]


def run_story(reserve: Reserve, *, actor: str) -> DemoResult:
    accounts = [Account(name, fund, date(2023, 1, 1)) for name, fund in ACCOUNTS]
    open_accounts(reserve, accounts, actor=actor)
    assets = {a.code: a for a in list_assets(reserve)}
    drafts = parse_entries(story(_Prices(reserve.settings.data_dir)), assets)
    posted = post_entries(reserve, drafts, actor=actor)
    return DemoResult(sum(p.created for p in posted), verify_ledger(reserve))
