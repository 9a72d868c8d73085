"""The transfer policy engine: parsing with precise errors, first-match rules, the always-on checks,
approvals and the time lock, on the shipped config and the real sanctions lists."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from reserve.adapters.sanctions_files import load_sanctions, load_transfer_policy, load_whitelist
from reserve.core.errors import InvalidInput
from reserve.custody.sanctions import SanctionsList
from reserve.custody.transfer_policy import (
    ApprovalDemand,
    DestinationKind,
    Evaluation,
    TransferFacts,
    TransferPolicy,
    Whitelist,
    approval_problems,
    evaluate,
    parse_transfer_policy,
    parse_whitelist,
    signing_opens_at,
)
from reserve.governance.people import Role

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 1, 15, 9, 30, tzinfo=UTC)  # the lists (2025-11-19) are 57 days old
WHITELISTED = "bcrt1q3u8c7tlrn6749nmwwav5m43zqlxnckgjtzq9hz"  # config/whitelist.toml, warm vault
STRANGER = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"
SANCTIONED_BTC = "bc1q05aktddf9ce4p7hh3stgsf253m4vweu7nkhtmw"
TRON_IN_XBT = "TUCsTq7TofTCJRRoHk6RvhMoS2mJLm5Yzq"
EVM_WHITELISTED = "0x52908400098527886E0F7030069857D2E4169EE7"
CUSTODIAN = frozenset({Role.CUSTODIAN.value})
MINIMAL = """
version = "t-1"
[settings]
cold_timelock_hours = 24
sanctions_max_age_days = 90
[[rules]]
name = "only"
when = {}
action = "allow"
"""


@pytest.fixture(scope="module")
def sanctions() -> SanctionsList:
    return load_sanctions(ROOT / "data" / "sanctions")


@pytest.fixture(scope="module")
def policy() -> TransferPolicy:
    return load_transfer_policy(ROOT / "config" / "transfer_policy.toml")[0]


@pytest.fixture(scope="module")
def whitelist() -> Whitelist:
    return load_whitelist(ROOT / "config" / "whitelist.toml")[0]


def facts(**changes: Any) -> TransferFacts:
    base = TransferFacts(
        initiator="cust1",
        initiator_roles=CUSTODIAN,
        source_vault="warm-1",
        source_tier="warm",
        asset="BTC",
        amount=50_000_000,
        amount_usd=Decimal("50000"),
        velocity_usd_24h=Decimal(0),
        destination=WHITELISTED,
        destination_kind=DestinationKind.OTHER,
        incoming_sources=(),
        legal_hold=False,
        outbound=True,
        now=NOW,
    )
    return replace(base, **changes)


def decide(
    policy: TransferPolicy, whitelist: Whitelist, sanctions: SanctionsList, **changes: Any
) -> Evaluation:
    return evaluate(policy, "p" * 64, whitelist, sanctions, facts(**changes))


def codes(evaluation: Evaluation) -> list[str]:
    return [v.code for v in evaluation.violations]


# --- the shipped files -------------------------------------------------------------------------


def test_the_shipped_policy_loads_with_its_sha256_and_uses_only_real_roles() -> None:
    path = ROOT / "config" / "transfer_policy.toml"
    policy, sha = load_transfer_policy(path)
    assert sha == hashlib.sha256(path.read_bytes()).hexdigest()
    assert policy.version == "2026-1"
    assert (policy.settings.cold_timelock_hours, policy.settings.sanctions_max_age_days) == (24, 90)
    roles = {r for rule in policy.rules if rule.approvals for r in rule.approvals.roles}
    assert roles <= {role.value for role in Role}
    assert policy.rules[-1].action == "block"


def test_the_shipped_whitelist_loads_with_its_sha256() -> None:
    path = ROOT / "config" / "whitelist.toml"
    whitelist, sha = load_whitelist(path)
    assert sha == hashlib.sha256(path.read_bytes()).hexdigest()
    assert whitelist.contains(WHITELISTED, "BTC")
    assert not whitelist.contains(WHITELISTED, "ETH")  # whitelisted per asset


# --- the shipped rules, first match wins ---------------------------------------------------------


def test_a_cold_transfer_not_initiated_by_a_custodian_is_blocked(
    policy: TransferPolicy, whitelist: Whitelist, sanctions: SanctionsList
) -> None:
    evaluation = decide(
        policy, whitelist, sanctions, source_tier="cold", initiator_roles=frozenset({"auditor"})
    )
    assert (evaluation.rule, evaluation.action) == ("cold-only-by-custodians", "block")
    assert codes(evaluation) == ["blocked-by-rule"]
    assert not evaluation.allowed


def test_a_cold_transfer_to_a_whitelisted_address_needs_three_and_waits_a_day(
    policy: TransferPolicy, whitelist: Whitelist, sanctions: SanctionsList
) -> None:
    evaluation = decide(policy, whitelist, sanctions, source_tier="cold")
    assert evaluation.destination_kind is DestinationKind.WHITELISTED  # upgraded from OTHER
    assert evaluation.rule == "cold-to-whitelisted"
    assert evaluation.approvals == ApprovalDemand(3, ("custodian", "risk-officer"))
    assert evaluation.timelock == timedelta(hours=24)
    assert evaluation.allowed
    final = datetime(2026, 1, 16, 8, 0, tzinfo=UTC)
    assert signing_opens_at(final, evaluation) == datetime(2026, 1, 17, 8, 0, tzinfo=UTC)


def test_a_court_named_recipient_needs_legal_and_custody(
    policy: TransferPolicy, whitelist: Whitelist, sanctions: SanctionsList
) -> None:
    evaluation = decide(
        policy,
        whitelist,
        sanctions,
        destination=STRANGER,
        destination_kind=DestinationKind.COURT,
        amount_usd=None,  # no price needed: the court rule has no USD condition
    )
    assert evaluation.rule == "court-ordered"
    assert evaluation.approvals == ApprovalDemand(3, ("legal-officer", "custodian"))
    assert evaluation.timelock == timedelta(0)  # warm vault
    assert evaluation.allowed


def test_daily_velocity_over_fifty_million_goes_to_the_committee(
    policy: TransferPolicy, whitelist: Whitelist, sanctions: SanctionsList
) -> None:
    over = decide(policy, whitelist, sanctions, velocity_usd_24h=Decimal("49950000.01"))
    assert over.rule == "daily-velocity-over-50m"
    assert over.approvals == ApprovalDemand(4, ("committee-member", "custodian"))
    exactly = decide(policy, whitelist, sanctions, velocity_usd_24h=Decimal(49_950_000))
    assert exactly.rule == "warm-hot-to-whitelisted-small"  # 50,000,000 is not over it


def test_usd_ranges_are_half_open(
    policy: TransferPolicy, whitelist: Whitelist, sanctions: SanctionsList
) -> None:
    below = decide(policy, whitelist, sanctions, amount_usd=Decimal("999999.99"))
    at = decide(policy, whitelist, sanctions, amount_usd=Decimal(1_000_000))
    assert below.rule == "warm-hot-to-whitelisted-small"
    assert below.approvals == ApprovalDemand(1, ("custodian", "risk-officer"))
    assert at.rule == "warm-hot-to-whitelisted-large"


def test_unit_ranges_are_half_open(whitelist: Whitelist, sanctions: SanctionsList) -> None:
    policy = parse_transfer_policy(
        MINIMAL.replace("when = {}", "when = { min_units = 100, max_units = '200' }"), "t"
    )
    matched = [
        decide(policy, whitelist, sanctions, amount=units).rule for units in (99, 100, 199, 200)
    ]
    assert matched == [None, "only", "only", None]


def test_an_address_neither_whitelisted_nor_court_named_is_blocked(
    policy: TransferPolicy, whitelist: Whitelist, sanctions: SanctionsList
) -> None:
    evaluation = decide(policy, whitelist, sanctions, destination=STRANGER)
    assert evaluation.destination_kind is DestinationKind.OTHER
    assert (evaluation.rule, codes(evaluation)) == ("other-destinations", ["blocked-by-rule"])
    assert 'rule "other-destinations"' in evaluation.violations[0].detail


def test_no_usd_price_is_a_violation_naming_each_rule_it_could_not_decide(
    policy: TransferPolicy, whitelist: Whitelist, sanctions: SanctionsList
) -> None:
    evaluation = decide(policy, whitelist, sanctions, amount_usd=None, source_tier="hot")
    details = [v.detail for v in evaluation.violations if v.code == "no-usd-price"]
    assert len(details) == 3  # the velocity rule and both warm/hot USD tiers
    assert details[0] == (
        'no USD price for BTC on 2026-01-15, the USD conditions of rule "daily-velocity-over-50m" '
        "cannot be evaluated"
    )
    assert evaluation.rule is None  # evaluation went on; no rule below matched either
    assert codes(evaluation)[-1] == "no-rule-matched"
    assert not evaluation.allowed


def test_a_rule_whose_plain_conditions_fail_needs_no_price(
    policy: TransferPolicy, whitelist: Whitelist, sanctions: SanctionsList
) -> None:
    evaluation = decide(policy, whitelist, sanctions, amount_usd=None, destination=STRANGER)
    assert codes(evaluation) == ["blocked-by-rule"]  # USD rules all want "whitelisted"


def test_no_rule_matched_is_a_default_deny(whitelist: Whitelist, sanctions: SanctionsList) -> None:
    narrow = parse_transfer_policy(MINIMAL.replace("when = {}", 'when = { assets = ["ETH"] }'), "t")
    evaluation = decide(narrow, whitelist, sanctions)
    assert (evaluation.rule, evaluation.action, evaluation.approvals) == (None, "block", None)
    assert codes(evaluation) == ["no-rule-matched"]


def test_evm_whitelist_entries_match_in_any_letter_case(sanctions: SanctionsList) -> None:
    policy = parse_transfer_policy(MINIMAL, "t")
    text = (
        f'version = "w"\n[[entries]]\naddress = "{EVM_WHITELISTED}"\nasset = "USDT"\nlabel = "x"\n'
    )
    whitelist = parse_whitelist(text, "w")
    lower = decide(policy, whitelist, sanctions, destination=EVM_WHITELISTED.lower(), asset="USDT")
    assert lower.destination_kind is DestinationKind.WHITELISTED
    court = decide(
        policy,
        whitelist,
        sanctions,
        destination=EVM_WHITELISTED,
        asset="USDT",
        destination_kind=DestinationKind.COURT,
    )
    assert court.destination_kind is DestinationKind.COURT  # the caller's COURT stands


# --- always on ---------------------------------------------------------------------------------


def test_the_tron_address_in_the_xbt_list_is_refused_as_a_tron_destination(
    whitelist: Whitelist, sanctions: SanctionsList
) -> None:
    allow_all = parse_transfer_policy(MINIMAL, "t")
    evaluation = decide(allow_all, whitelist, sanctions, asset="TRX", destination=TRON_IN_XBT)
    assert codes(evaluation) == ["sanctioned-destination"]
    assert TRON_IN_XBT in evaluation.violations[0].detail
    assert sanctions.sha256[:12] in evaluation.violations[0].detail


def test_every_violation_is_listed_not_only_the_first(
    policy: TransferPolicy, whitelist: Whitelist, sanctions: SanctionsList
) -> None:
    evaluation = decide(
        policy,
        whitelist,
        sanctions,
        destination=SANCTIONED_BTC,
        incoming_sources=(STRANGER, TRON_IN_XBT, "0x" + "ab" * 20),
        legal_hold=True,
        now=datetime(2026, 3, 1, tzinfo=UTC),  # lists 102 days old
    )
    assert codes(evaluation) == [
        "legal-hold",
        "sanctioned-destination",
        "sanctioned-source",
        "sanctions-list-stale",
        "blocked-by-rule",
    ]
    assert TRON_IN_XBT in evaluation.violations[2].detail
    assert "102 days old" in evaluation.violations[3].detail


def test_stale_lists_block_outbound_transfers_only(
    policy: TransferPolicy, whitelist: Whitelist, sanctions: SanctionsList
) -> None:
    day_90 = datetime(2026, 2, 17, 12, 0, tzinfo=UTC)
    assert decide(policy, whitelist, sanctions, now=day_90).allowed
    day_91 = day_90 + timedelta(days=1)
    assert codes(decide(policy, whitelist, sanctions, now=day_91)) == ["sanctions-list-stale"]
    assert decide(policy, whitelist, sanctions, now=day_91, outbound=False).allowed


def test_the_evaluation_is_stored_as_stable_json(
    policy: TransferPolicy, whitelist: Whitelist, sanctions: SanctionsList
) -> None:
    stored = decide(policy, whitelist, sanctions, source_tier="cold", legal_hold=True).to_json()
    assert stored == {
        "policy_version": "2026-1",
        "policy_sha256": "p" * 64,
        "rule": "cold-to-whitelisted",
        "action": "approve",
        "approvals": {"count": 3, "roles": ["custodian", "risk-officer"]},
        "violations": [{"code": "legal-hold", "detail": "the coins are under legal hold"}],
        "destination_kind": "whitelisted",
        "sanctions_sha256": sanctions.sha256,
        "sanctions_as_of": "2025-11-19",
        "timelock_seconds": 86400,
        "allowed": False,
    }
    assert json.loads(json.dumps(stored, sort_keys=True)) == stored


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"destination_kind": DestinationKind.WHITELISTED}, "decided from the whitelist"),
        ({"now": datetime(2026, 1, 15)}, "tz-aware"),
        ({"source_tier": "COLD"}, "source_tier"),
        ({"amount": 0}, "positive"),
    ],
)
def test_facts_refuse_what_would_open_a_hole(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        facts(**changes)


# --- approvals ---------------------------------------------------------------------------------


def _approve(count: int, *roles: str, action: str = "approve") -> Evaluation:
    demand = ApprovalDemand(count, roles) if action == "approve" else None
    return Evaluation(
        policy_version="t",
        policy_sha256="p" * 64,
        rule="r",
        action=action,
        approvals=demand,
        violations=(),
        destination_kind=DestinationKind.WHITELISTED,
        sanctions_sha256="s" * 64,
        sanctions_as_of=date(2025, 11, 19),
        timelock=timedelta(0),
    )


def test_the_initiator_never_counts_and_is_told_why() -> None:
    needed, problems = approval_problems(
        _approve(2, "custodian"),
        initiator="cust1",
        approvers=[("cust1", CUSTODIAN), ("cust2", CUSTODIAN)],
    )
    assert needed == 1
    assert [(p.field, p.reason) for p in problems] == [
        ("approvers[0]", "cust1 initiated the transfer: approving your own request does not count")
    ]


def test_a_second_approval_by_one_person_and_an_outsider_do_not_count() -> None:
    needed, problems = approval_problems(
        _approve(2, "custodian", "risk-officer"),
        initiator="cust1",
        approvers=[
            ("risk1", frozenset({"risk-officer"})),
            ("risk1", frozenset({"risk-officer"})),
            ("aud1", frozenset({"auditor"})),
        ],
    )
    assert needed == 1
    assert [p.field for p in problems] == ["approvers[1]", "approvers[2]"]
    assert "holds none of: custodian, risk-officer" in problems[1].reason


def test_enough_distinct_eligible_approvers_need_nothing_more() -> None:
    approvers = [(name, CUSTODIAN) for name in ("c2", "c3", "c4", "c5")]
    assert approval_problems(_approve(3, "custodian"), initiator="c1", approvers=approvers) == (
        0,
        [],
    )


def test_allow_needs_nothing_and_block_cannot_be_approved_away() -> None:
    assert approval_problems(_approve(0, action="allow"), initiator="c1", approvers=[]) == (0, [])
    needed, problems = approval_problems(
        _approve(0, action="block"), initiator="c1", approvers=[("c2", CUSTODIAN)]
    )
    assert needed == 0
    assert [p.field for p in problems] == ["action"]
    assert "no approval releases it" in problems[0].reason


def test_signing_opens_at_refuses_a_naive_time() -> None:
    with pytest.raises(ValueError, match="tz-aware"):
        signing_opens_at(datetime(2026, 1, 1), _approve(1, "custodian"))


# --- parse errors name file, field and reason ----------------------------------------------------


def _rule(body: str, action: str = 'action = "allow"') -> str:
    return MINIMAL.replace('when = {}\naction = "allow"', f"{body}\n{action}")


@pytest.mark.parametrize(
    ("text", "field", "reason"),
    [
        (MINIMAL.replace("= 24", "= 24.0"), "settings.cold_timelock_hours", "not a float"),
        (MINIMAL.replace("= 90", "= 0"), "settings.sanctions_max_age_days", "greater than 0"),
        (MINIMAL.replace("= 90", "= true"), "settings.sanctions_max_age_days", "true/false"),
        ("colour = 1\n" + MINIMAL, "colour", "unknown key"),
        (_rule("when = { min_usd = 1000.5 }"), "rules[0].when.min_usd", "not a float"),
        (_rule("when = { max_usd = 1e6 }"), "rules[0].when.max_usd", "not a float"),
        (_rule("when = { velocity_usd_over = 5e7 }"), "rules[0].when.velocity_usd_over", "float"),
        (_rule("when = { min_usd = 'lots' }"), "rules[0].when.min_usd", "decimal"),
        (_rule("when = { min_units = 5, max_units = 5 }"), "rules[0].when.max_units", "above"),
        (_rule('when = { min_usd = "10", max_usd = "9" }'), "rules[0].when.max_usd", "above"),
        (_rule("when = { asset = ['BTC'] }"), "rules[0].when.asset", "unknown key"),
        (_rule("when = { assets = [] }"), "rules[0].when.assets", "at least one"),
        (_rule("when = { source_tiers = ['frozen'] }"), "rules[0].when.source_tiers[0]", "cold"),
        (_rule("when = { destinations = ['friend'] }"), "rules[0].when.destinations[0]", "court"),
        (_rule(""), "rules[0].when", "is required"),
        (_rule("when = {}", 'action = "approve"'), "rules[0].approvals", "needs approvals"),
        (
            _rule("when = {}", 'action = "block"\napprovals = { count = 1, roles = ["auditor"] }'),
            "rules[0].approvals",
            "takes no approvals",
        ),
        (
            _rule("when = {}", 'action = "approve"\napprovals = { count = 0, roles = ["a1"] }'),
            "rules[0].approvals.count",
            'greater than or equal to 1 (rule "only")',
        ),
        (
            _rule("when = {}", 'action = "approve"\napprovals = { count = 2, roles = [] }'),
            "rules[0].approvals.roles",
            "at least one",
        ),
        (
            _rule("when = {}", 'action = "approve"\napprovals = { count = 2.0, roles = ["a1"] }'),
            "rules[0].approvals.count",
            "not a float",
        ),
        (_rule("when = {}", 'action = "maybe"'), "rules[0].action", "'allow', 'approve'"),
        ('version = "x"\n[settings]\n', "settings.cold_timelock_hours", "is required"),
        ("version = ", "file", "not valid TOML"),
    ],
)
def test_a_bad_policy_is_refused_naming_file_field_and_reason(
    text: str, field: str, reason: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_transfer_policy(text, "transfer_policy.toml")
    found = [(p.where, p.field) for p in caught.value.problems]
    assert ("transfer_policy.toml", field) in found
    problem = caught.value.problems[found.index(("transfer_policy.toml", field))]
    assert reason in problem.reason


def test_every_problem_is_reported_at_once_with_rule_names_and_order_checks() -> None:
    text = (
        MINIMAL
        + '[[rules]]\nname = "only"\nwhen = { assets = ["BTC"] }\naction = "block"\n'
        + '[[rules]]\nname = "late"\nwhen = { initiator_roles = ["custodain"] }\naction = "block"\n'
    )
    with pytest.raises(InvalidInput) as caught:
        parse_transfer_policy(text, "p.toml", known_roles={r.value for r in Role})
    assert [(p.field, p.reason.split(" (")[0].split(":")[0]) for p in caught.value.problems] == [
        ("rules[1].name", '"only" is the name of rules[0] already'),
        ("rules[1]", "can never match"),
        ("rules[2]", "can never match"),
        ("rules[2].when.initiator_roles[0]", '"custodain" is not a role'),
    ]
    assert "committee-member, custodian" in caught.value.problems[-1].reason


def test_known_roles_are_checked_only_when_given() -> None:
    text = _rule("when = { initiator_lacks_roles = ['custodain'] }")
    assert parse_transfer_policy(text, "p").rules[0].when.initiator_lacks_roles == ["custodain"]
    with pytest.raises(InvalidInput, match=r"initiator_lacks_roles\[0\]"):
        parse_transfer_policy(text, "p", known_roles={"custodian"})


def test_a_policy_file_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_bytes(MINIMAL.encode() + b"# \xff\n")
    with pytest.raises(InvalidInput, match=r"policy\.toml: file: is not UTF-8"):
        load_transfer_policy(path)


@pytest.mark.parametrize(
    ("entries", "field", "reason"),
    [
        (
            [(EVM_WHITELISTED, "USDT"), (EVM_WHITELISTED.lower(), "USDT")],
            "entries[1].address",
            "is entries[0] already",
        ),
        ([("has space", "BTC")], "entries[0].address", "pattern"),
        ([(WHITELISTED, "btc")], "entries[0].asset", "pattern"),
    ],
)
def test_a_bad_whitelist_is_refused_naming_the_entry(
    entries: list[tuple[str, str]], field: str, reason: str
) -> None:
    text = 'version = "w"\n' + "".join(
        f'[[entries]]\naddress = "{a}"\nasset = "{s}"\nlabel = "x"\n' for a, s in entries
    )
    with pytest.raises(InvalidInput) as caught:
        parse_whitelist(text, "whitelist.toml")
    problem = caught.value.problems[0]
    assert (problem.where, problem.field) == ("whitelist.toml", field)
    assert reason in problem.reason


def test_one_address_may_be_whitelisted_for_two_assets() -> None:
    text = 'version = "w"\n' + "".join(
        f'[[entries]]\naddress = "{EVM_WHITELISTED}"\nasset = "{s}"\nlabel = "x"\n'
        for s in ("USDT", "USDC")
    )
    assert len(parse_whitelist(text, "w").entries) == 2
