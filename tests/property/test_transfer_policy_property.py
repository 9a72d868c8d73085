"""What the transfer policy must always do, whatever the rules and the facts:

* the rule chosen is the first that matches, as a plain reference loop finds it;
* the initiator's approvals and second approvals never count;
* a sanctioned destination is always a violation, whatever the rules say;
* k independent problems give k violations, none hidden behind another.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from reserve.adapters.sanctions_files import load_sanctions
from reserve.custody.transfer_policy import (
    ApprovalDemand,
    DestinationKind,
    Evaluation,
    TransferFacts,
    TransferPolicy,
    Whitelist,
    approval_problems,
    evaluate,
)

SANCTIONS = load_sanctions(Path(__file__).resolve().parents[2] / "data" / "sanctions")
NOW = datetime(2026, 1, 15, 9, 30, tzinfo=UTC)
LISTED = "0x04DBA1194ee10112fE6C3207C0687DEf0e78baCf"  # on the ETH list
ROLES = ("custodian", "risk-officer", "legal-officer", "auditor")
VAULTS = ("cold-1", "warm-1", "hot-1")
ASSETS = ("BTC", "ETH", "USDT")
ADDRESSES = ("addr-a", "addr-b", "addr-c")
USD_KEYS = ("min_usd", "max_usd", "velocity_usd_over")

money = st.integers(min_value=0, max_value=8).map(Decimal)  # small: boundaries get hit


def _subset(names: tuple[str, ...]) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(names), min_size=1, max_size=len(names), unique=True)


CONDITION_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "initiator_roles": _subset(ROLES),
    "initiator_lacks_roles": _subset(ROLES),
    "source_vaults": _subset(VAULTS),
    "source_tiers": _subset(("cold", "warm", "hot")),
    "destinations": _subset(("whitelisted", "court", "other")),
    "assets": _subset(ASSETS),
    "min_units": st.integers(0, 8),
    "max_units": st.integers(1, 8),
    "min_usd": money.map(str),
    "max_usd": money.map(lambda d: str(d + 1)),
    "velocity_usd_over": money.map(str),
}


@st.composite
def conditions(draw: st.DrawFn) -> dict[str, Any]:
    """Up to three conditions: with more, a rule so rarely matches that boundaries go untested."""
    keys = draw(st.lists(st.sampled_from(sorted(CONDITION_VALUES)), max_size=3, unique=True))
    return {key: draw(CONDITION_VALUES[key]) for key in keys}


def _fix_ranges(when: dict[str, Any]) -> dict[str, Any]:
    if "min_units" in when and "max_units" in when and when["max_units"] <= when["min_units"]:
        del when["max_units"]
    if "min_usd" in when and "max_usd" in when and int(when["max_usd"]) <= int(when["min_usd"]):
        del when["max_usd"]
    return when


@st.composite
def policies(draw: st.DrawFn) -> TransferPolicy:
    rules = []
    for i in range(draw(st.integers(1, 4))):
        action = draw(st.sampled_from(("allow", "approve", "block")))
        rule: dict[str, Any] = {"name": f"r{i}", "when": _fix_ranges(draw(conditions()))}
        rule["action"] = action
        if action == "approve":
            rule["approvals"] = {"count": draw(st.integers(1, 4)), "roles": draw(_subset(ROLES))}
        rules.append(rule)
    settings = {"cold_timelock_hours": 24, "sanctions_max_age_days": 90}
    return TransferPolicy.model_validate({"version": "p", "settings": settings, "rules": rules})


@st.composite
def transfer_facts(draw: st.DrawFn) -> TransferFacts:
    vault = draw(st.sampled_from(VAULTS))
    return TransferFacts(
        initiator="init",
        initiator_roles=frozenset(draw(st.lists(st.sampled_from(ROLES), max_size=3))),
        source_vault=vault,
        source_tier=vault.split("-")[0],
        asset=draw(st.sampled_from(ASSETS)),
        amount=draw(st.integers(1, 9)),
        amount_usd=draw(st.none() | money),
        velocity_usd_24h=draw(money),
        destination=draw(st.sampled_from(ADDRESSES)),
        destination_kind=draw(st.sampled_from((DestinationKind.OTHER, DestinationKind.COURT))),
        incoming_sources=(),
        legal_hold=False,
        outbound=True,
        now=NOW,
    )


whitelists = st.lists(
    st.tuples(st.sampled_from(ADDRESSES), st.sampled_from(ASSETS)), unique=True, max_size=4
).map(
    lambda pairs: Whitelist.model_validate(
        {"version": "w", "entries": [{"address": a, "asset": s, "label": "x"} for a, s in pairs]}
    )
)


def reference_holds(key: str, value: Any, f: TransferFacts, kind: str) -> bool:
    """One condition, spelt out; a USD condition without a price does not hold."""
    usd = f.amount_usd
    if key == "initiator_roles":
        return bool(set(value) & f.initiator_roles)
    if key == "initiator_lacks_roles":
        return not set(value) & f.initiator_roles
    if key in ("source_vaults", "source_tiers", "destinations", "assets"):
        fact = {"source_vaults": f.source_vault, "source_tiers": f.source_tier,
                "destinations": kind, "assets": f.asset}[key]  # fmt: skip
        return fact in value
    if key == "min_units":
        return bool(f.amount >= value)
    if key == "max_units":
        return bool(f.amount < value)
    if usd is None:
        return False
    if key == "min_usd":
        return bool(usd >= value)
    if key == "max_usd":
        return bool(usd < value)
    assert key == "velocity_usd_over"
    return bool(f.velocity_usd_24h + usd > value)


def reference_rule(policy: TransferPolicy, whitelist: Whitelist, f: TransferFacts) -> str | None:
    """The name of the first rule every condition of which holds."""
    kind = f.destination_kind.value
    pairs = {(e.address, e.asset) for e in whitelist.entries}
    if kind == "other" and (f.destination, f.asset) in pairs:
        kind = "whitelisted"
    for rule in policy.rules:
        when = rule.when.model_dump(exclude_none=True)
        if all(reference_holds(key, value, f, kind) for key, value in when.items()):
            return rule.name
    return None


@settings(max_examples=400)
@given(policies(), whitelists, transfer_facts())
def test_the_first_matching_rule_decides(
    policy: TransferPolicy, whitelist: Whitelist, facts: TransferFacts
) -> None:
    evaluation = evaluate(policy, "h", whitelist, SANCTIONS, facts)
    expected = reference_rule(policy, whitelist, facts)
    assert evaluation.rule == expected
    if expected is None:
        assert evaluation.action == "block"
        assert "no-rule-matched" in [v.code for v in evaluation.violations]
    else:
        rule = next(r for r in policy.rules if r.name == expected)
        assert (evaluation.action, evaluation.approvals) == (rule.action, rule.approvals)
    if facts.amount_usd is not None:
        assert "no-usd-price" not in [v.code for v in evaluation.violations]


def _evaluation(demand: ApprovalDemand) -> Evaluation:
    return Evaluation(
        policy_version="p",
        policy_sha256="h",
        rule="r",
        action="approve",
        approvals=demand,
        violations=(),
        destination_kind=DestinationKind.WHITELISTED,
        sanctions_sha256=SANCTIONS.sha256,
        sanctions_as_of=date(2025, 11, 19),
        timelock=timedelta(0),
    )


PEOPLE = ("init", "p1", "p2", "p3", "p4")
approvals = st.lists(
    st.tuples(
        st.sampled_from(PEOPLE),
        st.lists(st.sampled_from(ROLES), max_size=2).map(frozenset),
    ),
    max_size=10,
)


@given(st.integers(1, 5), _subset(ROLES), approvals)
def test_only_distinct_eligible_non_initiators_count(
    count: int, roles: list[str], approvers: list[tuple[str, frozenset[str]]]
) -> None:
    demand = ApprovalDemand(count, tuple(roles))
    needed, problems = approval_problems(_evaluation(demand), initiator="init", approvers=approvers)
    first_by_person: dict[str, frozenset[str]] = {}
    for person, held in approvers:
        first_by_person.setdefault(person, held)
    eligible = {p for p, held in first_by_person.items() if p != "init" and held & set(roles)}
    assert needed == max(0, count - len(eligible))
    assert needed >= count - len({p for p, _ in approvers if p != "init"})
    own = [i for i, (p, _) in enumerate(approvers) if p == "init"]
    flagged = {p.field for p in problems if "approving your own request" in p.reason}
    assert flagged == {f"approvers[{i}]" for i in own}
    assert len(problems) == len(approvers) - len(eligible)


def _case_variants(address: str) -> st.SearchStrategy[str]:
    return st.sampled_from((address, address.lower(), "0x" + address[2:].upper(), f" {address}\t"))


@given(policies(), whitelists, transfer_facts(), _case_variants(LISTED), st.booleans())
def test_a_sanctioned_destination_is_always_a_violation(
    policy: TransferPolicy,
    whitelist: Whitelist,
    facts: TransferFacts,
    destination: str,
    whitelisted: bool,
) -> None:
    if whitelisted:  # even a whitelisted address is screened
        entry = {"address": LISTED, "asset": facts.asset, "label": "x"}
        whitelist = Whitelist.model_validate({"version": "w", "entries": [entry]})
    evaluation = evaluate(
        policy, "h", whitelist, SANCTIONS, replace(facts, destination=destination)
    )
    assert "sanctioned-destination" in [v.code for v in evaluation.violations]
    assert not evaluation.allowed


# Rule 1 cannot be decided without a price (and never matches with one at these amounts), rule 2
# blocks XRP, rule 3 allows the rest: each problem below can be switched on or off alone.
INDEPENDENT = TransferPolicy.model_validate(
    {
        "version": "k",
        "settings": {"cold_timelock_hours": 0, "sanctions_max_age_days": 30},
        "rules": [
            {
                "name": "huge",
                "when": {"min_usd": "1000000000000"},
                "action": "approve",
                "approvals": {"count": 1, "roles": ["custodian"]},
            },
            {"name": "no-xrp", "when": {"assets": ["XRP"]}, "action": "block"},
            {"name": "rest", "when": {}, "action": "allow"},
        ],
    }
)
PROBLEMS = (
    "legal-hold",
    "sanctioned-destination",
    "sanctioned-source",
    "sanctions-list-stale",
    "no-usd-price",
    "blocked-by-rule",
)


@given(st.sets(st.sampled_from(PROBLEMS)), st.booleans())
def test_k_independent_problems_give_k_violations(on: set[str], inbound: bool) -> None:
    stale = "sanctions-list-stale" in on
    facts = TransferFacts(
        initiator="init",
        initiator_roles=frozenset({"custodian"}),
        source_vault="hot-1",
        source_tier="hot",
        asset="XRP" if "blocked-by-rule" in on else "BTC",
        amount=1_000,
        amount_usd=None if "no-usd-price" in on else Decimal(10),
        velocity_usd_24h=Decimal(0),
        destination=LISTED if "sanctioned-destination" in on else "addr-a",
        destination_kind=DestinationKind.OTHER,
        incoming_sources=("addr-b", LISTED.lower()) if "sanctioned-source" in on else ("addr-b",),
        legal_hold="legal-hold" in on,
        outbound=True if stale else not inbound,
        now=datetime(2026, 6, 1, tzinfo=UTC) if stale else datetime(2025, 12, 1, tzinfo=UTC),
    )
    evaluation = evaluate(INDEPENDENT, "h", Whitelist(version="w"), SANCTIONS, facts)
    found = [v.code for v in evaluation.violations]
    assert sorted(found) == sorted(on)
    assert evaluation.allowed == (not on)
