"""Over any sequence of orders, sales among them: units are conserved, and reach a fund (as units
or as a sale's proceeds) only through forfeiture."""

from __future__ import annotations

import hashlib
from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from reserve.intake.legal import (
    LEAVES_CUSTODY,
    LegalOrder,
    LegalPosition,
    LegalState,
    order_problems,
)

S = LegalState
DOC = hashlib.sha256(b"order").hexdigest()
steps = st.lists(
    st.tuples(st.sampled_from(LegalState), st.sampled_from(LegalState), st.integers(0, 60)),
    max_size=40,
)


@given(seized=st.lists(st.integers(1, 50), min_size=1, max_size=4), steps=steps)
def test_no_order_sequence_breaks_conservation_or_skips_forfeiture(
    seized: list[int], steps: list[tuple[LegalState, LegalState, int]]
) -> None:
    position = LegalPosition("2024-001", "BTC")
    for amount in seized:
        position = position.with_seizure(amount)
    ever_forfeited = 0
    for frm, to, amount in steps:
        order = LegalOrder(
            "2024-001",
            "BTC",
            amount,
            frm,
            to,
            "ref",
            date(2024, 1, 1),
            DOC,
            "p",
            frozenset({"a", "b"}),
            ("r",),
        )
        if order_problems(position, order, where="o"):
            continue  # refused orders change nothing
        position = position.after(order)
        if to is S.FORFEITED:
            ever_forfeited += amount
        assert position.seized == sum(seized)
        assert all(units >= 0 for units in position.units.values())
        left = sum(position.held(state) for state in LEAVES_CUSTODY)
        assert position.in_custody + left == sum(seized)
        to_funds = position.held(S.TRANSFERRED_TO_RESERVE) + position.held(S.SOLD)
        assert to_funds <= ever_forfeited  # units or proceeds reach a fund only once forfeited
        assert position.sold == position.held(S.INTERLOCUTORY_SOLD) + position.held(S.SOLD)
        assert sum(seized) == (
            position.held(S.SEIZED) + position.held(S.RESTRAINED) + position.held(S.FORFEITED)
            + position.held(S.TRANSFERRED_TO_RESERVE) + position.held(S.RETURNED)
            + position.held(S.RESTITUTED) + position.sold
        )  # fmt: skip
