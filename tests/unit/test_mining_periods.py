"""Mining months without a database: periods, the rule switch, costs, sales and the report."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from reserve.intake.mining import (
    OK,
    SHORTFALL,
    Cost,
    MiningOutput,
    MiningSale,
    OutputSplit,
    RecordedOutput,
    RecordedSale,
    SaleRule,
    fair_value_cost,
    output_problems,
    period_bounds,
    period_lines,
    period_problems,
    production_cost,
    rule_on,
    sale_problems,
    same_report,
    split_cost,
    split_output,
)

RULES = [SaleRule(date(2024, 1, 1), Decimal("0.5")), SaleRule(date(2025, 1, 1), Decimal("0.75"))]
TODAY = date(2026, 1, 15)
TX = "ab" * 32
BTC = 100_000_000


def mined(period: str = "2024-06", amount: int = 4 * BTC, **kw: Any) -> MiningOutput:
    fields: dict[str, Any] = {
        "operation": "EKB-1",
        "period": period,
        "amount": amount,
        "payout_txids": (TX,),
        "energy_mwh": Decimal(1200),
        "cost_kzt": Decimal(30_000_000),
        "kzt_per_usd": Decimal(450),
    }
    return MiningOutput(**{**fields, **kw})


def recorded(period: str, amount: int) -> RecordedOutput:
    rule = rule_on(RULES, period_bounds(period)[0])
    assert rule is not None
    return RecordedOutput(
        mined(period, amount), split_output(amount, rule), "production-cost", Decimal(1), "0", 1
    )


def sold(
    period: str, quantity: int, ref: str, price: str = "60000", fee: str = "10"
) -> RecordedSale:
    sale = MiningSale(
        "EKB-1", period, "AIX", ref, quantity, Decimal(price), Decimal(fee), date(2025, 7, 1)
    )
    return RecordedSale(sale, Decimal(100), Decimal(5), "0", 2)


def test_a_period_runs_from_its_first_to_its_last_day() -> None:
    assert period_bounds("2024-02") == (date(2024, 2, 1), date(2024, 2, 29))
    assert period_bounds("2025-12") == (date(2025, 12, 1), date(2025, 12, 31))


def test_a_period_must_be_a_month_that_has_ended() -> None:
    assert period_problems("2025-12", today=TODAY, where="w") == []
    (early,) = period_problems("2026-01", today=TODAY, where="w")
    assert early.reason == "the period has not ended: 2026-01 runs to 2026-01-31"
    (bad,) = period_problems("2024-13", today=TODAY, where="w")
    assert bad.reason == "'2024-13' is not a month written YYYY-MM"
    assert period_problems("2026-01", today=date(2026, 1, 31), where="w") == []


def test_the_rule_switches_from_half_to_three_quarters_in_2025() -> None:
    december = split_output(4 * BTC, rule_on(RULES, period_bounds("2024-12")[0]) or RULES[0])
    january = split_output(4 * BTC, rule_on(RULES, period_bounds("2025-01")[0]) or RULES[0])
    assert (december.to_sell, december.to_retain) == (2 * BTC, 2 * BTC)
    assert (january.to_sell, january.to_retain) == (3 * BTC, BTC)
    assert rule_on(RULES, period_bounds("2023-12")[0]) is None


def test_the_sold_part_is_rounded_up() -> None:
    split = split_output(7, RULES[1])  # 5.25 units to sell
    assert (split.to_sell, split.to_retain) == (6, 1)


def test_every_problem_of_a_report_is_named() -> None:
    bad = mined("2026-01", 0, payout_txids=("nope", "nope"), energy_mwh=Decimal(-1))
    problems = output_problems(bad, today=TODAY, where="output EKB-1 2026-01")
    assert [p.field for p in problems] == [
        "period",
        "amount",
        "payout_txids",
        "payout_txids",
        "payout_txids",
        "energy_mwh",
    ]
    assert output_problems(mined(), today=TODAY, where="w") == []
    (none,) = output_problems(mined(payout_txids=()), today=TODAY, where="w")
    assert none.reason == "name at least one payout transaction"


def test_production_cost_converts_at_the_rate_and_splits_to_the_cent() -> None:
    total = production_cost(Decimal("1000000"), Decimal("3"))
    assert total == Cost(Decimal("333333.33"), Decimal("1000000"))
    sell, keep = split_cost(total, OutputSplit(6, 1, RULES[1]))
    assert sell == Cost(Decimal("285714.28"), Decimal("857142.86"))
    assert (sell.usd + keep.usd, sell.kzt + keep.kzt) == (total.usd, total.kzt)
    assert fair_value_cost(Decimal("1000.50"), Decimal(450)) == Cost(
        Decimal("1000.50"), Decimal("450225.00")
    )


@given(
    usd=st.decimals(min_value=0, max_value=10**9, places=2),
    amount=st.integers(1, 10**12),
    share=st.decimals(min_value=0, max_value=1, places=4),
)
def test_the_two_lots_always_cost_the_whole(usd: Decimal, amount: int, share: Decimal) -> None:
    split = split_output(amount, SaleRule(date(2024, 1, 1), share))
    sell, keep = split_cost(Cost(usd, usd * 450), split)
    assert sell.usd + keep.usd == usd
    assert sell.kzt + keep.kzt == usd * 450
    assert sell.usd >= 0
    assert keep.usd >= 0


def test_a_replay_may_leave_out_the_rate_used_but_not_change_it() -> None:
    stored = mined()
    assert same_report(stored, replace(stored, kzt_per_usd=None))
    assert same_report(stored, stored)
    assert not same_report(stored, replace(stored, kzt_per_usd=Decimal(451)))
    assert not same_report(stored, replace(stored, amount=stored.amount + 1))


def test_sale_checks_name_every_problem() -> None:
    sale = MiningSale(
        "EKB-1", "2024-06", "AIX", "", 0, Decimal(0), Decimal("0.001"), date(2026, 2, 1)
    )
    problems = sale_problems(sale, decimals=8, today=TODAY, where="sale AIX")
    assert [p.field for p in problems] == ["sold_on", "ref", "quantity", "price_usd", "fee_usd"]
    early = replace(sale, ref="T-1", quantity=BTC, price_usd=Decimal(1), fee_usd=Decimal(2))
    early = replace(early, sold_on=date(2024, 5, 31))
    assert [str(p) for p in sale_problems(early, decimals=8, today=TODAY, where="s")] == [
        "s: sold_on: 2024-05-31 is before the period 2024-06 began",
        "s: fee_usd: 2 exceeds the sale's gross proceeds 1.00",
    ]
    dust = replace(early, quantity=1, fee_usd=Decimal(0), sold_on=date(2024, 7, 1))
    (tiny,) = sale_problems(dust, decimals=8, today=TODAY, where="s")
    assert tiny.reason == "the sale's gross proceeds round to USD 0.00"


def test_gross_and_proceeds_are_kept_to_the_cent() -> None:
    sale = MiningSale(
        "EKB-1", "2024-06", "AIX", "T-1", 12_345_678, Decimal("61234.57"), Decimal("10.00"),
        date(2024, 7, 1),
    )  # fmt: skip
    assert sale.gross_usd(8) == Decimal("7559.82")  # 0.12345678 * 61234.57 = 7559.823...
    assert sale.proceeds_usd(8) == Decimal("7549.82")


def test_the_report_flags_a_period_that_sold_less_than_the_rule() -> None:
    outputs = [recorded("2025-03", 4 * BTC), recorded("2024-06", 4 * BTC)]
    sales = [
        sold("2024-06", 2 * BTC, "T-1"),
        sold("2025-03", 2 * BTC, "T-2"),
        sold("2025-03", BTC - 1, "T-3"),
    ]
    june, march = period_lines(outputs, sales, assets={"EKB-1": "BTC"}, decimals={"BTC": 8})
    assert (june.period, june.required, june.sold, june.shortfall, june.flag) == (
        "2024-06", 2 * BTC, 2 * BTC, 0, OK,
    )  # fmt: skip
    assert (march.period, march.required, march.sold, march.shortfall, march.flag) == (
        "2025-03", 3 * BTC, 3 * BTC - 1, 1, SHORTFALL,
    )  # fmt: skip
    assert march.retained == BTC
    assert march.rule.sell_share == Decimal("0.75")
    assert june.proceeds_usd == Decimal("119990.00")  # 2 BTC at 60,000 less a 10 USD fee
    assert (march.cost_sold_usd, march.realised_usd) == (Decimal(200), Decimal(10))


def test_a_period_with_no_sale_is_short_by_its_whole_required_share() -> None:
    (line,) = period_lines(
        [recorded("2024-06", 3)], [], assets={"EKB-1": "BTC"}, decimals={"BTC": 8}
    )
    assert (line.required, line.sold, line.shortfall, line.flag) == (2, 0, 2, SHORTFALL)
    assert line.proceeds_usd == 0
