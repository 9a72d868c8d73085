"""The transfer policy: which transfers custody may make, and with whose approval.

Custody moves nothing without a decision from here. The policy is an ordered list of rules read
from TOML (``config/transfer_policy.toml``); the FIRST rule whose condition matches decides, as in
institutional custody engines, and a transfer no rule matches is refused (default deny). A rule
allows, blocks, or demands N approvals from holders of some roles. Changing the policy or the
whitelist is itself a quorum operation (services); here they are parsed and fingerprinted.

Some checks hold whatever the rules say: coins under legal hold do not move; every destination
and every address that funded the coins is screened against the union of the sanctions lists; an
outbound transfer is refused when the lists are older than the policy allows; the initiator never
approves; a cold vault waits ``cold_timelock_hours`` between the final approval and signing.
An evaluation lists EVERY violation, so an officer sees all that is wrong at once.

When a rule's condition is on USD and the transfer has no USD price, the rule cannot be decided.
It is then treated as not matching, the evaluation goes on to the next rules, and a
``no-usd-price`` violation naming that rule is recorded, so the transfer is refused until it is
priced: assuming "matches" would apply a rule the facts may not support, and skipping it silently
would let an unpriced transfer slip past a stricter rule.

The policy file and the whitelist are parsed in ``transfer_policy_file``; this module re-exports
them, so ``reserve.custody.transfer_policy`` is the one place services import from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from reserve.core.errors import Problem
from reserve.custody.sanctions import SanctionsList, is_stale, list_age_days, normalise_address
from reserve.custody.transfer_policy_file import (
    TIERS,
    ApprovalDemand,
    PolicyRule,
    PolicySettings,
    RuleCondition,
    TransferPolicy,
    Whitelist,
    WhitelistEntry,
    parse_transfer_policy,
    parse_whitelist,
)

__all__ = [
    "ApprovalDemand",
    "DestinationKind",
    "Evaluation",
    "PolicyRule",
    "PolicySettings",
    "RuleCondition",
    "TransferFacts",
    "TransferPolicy",
    "Violation",
    "Whitelist",
    "WhitelistEntry",
    "approval_problems",
    "evaluate",
    "parse_transfer_policy",
    "parse_whitelist",
    "signing_opens_at",
]


class DestinationKind(StrEnum):
    WHITELISTED = "whitelisted"
    COURT = "court"  # a recipient a court decision names; the caller decides
    OTHER = "other"


@dataclass(frozen=True)
class TransferFacts:
    """What the policy looks at. The caller says COURT or OTHER; ``evaluate`` upgrades OTHER to
    WHITELISTED from the whitelist (a caller cannot claim it, hence the check below)."""

    initiator: str
    initiator_roles: frozenset[str]
    source_vault: str
    source_tier: str
    asset: str
    amount: int  # base units
    amount_usd: Decimal | None  # None: no USD price for the asset today
    velocity_usd_24h: Decimal  # other transfers from the vault in the trailing 24h, USD
    destination: str
    destination_kind: DestinationKind
    incoming_sources: tuple[str, ...]  # addresses that funded the coins being spent
    legal_hold: bool
    outbound: bool
    now: datetime

    def __post_init__(self) -> None:
        # the service validated the user's input; these guard against programming errors
        if self.now.utcoffset() is None:
            raise ValueError("now must be a tz-aware datetime")
        if self.source_tier not in TIERS:
            raise ValueError(f"source_tier {self.source_tier!r} is not one of {TIERS}")
        if self.destination_kind is DestinationKind.WHITELISTED:
            raise ValueError("WHITELISTED is decided from the whitelist; pass OTHER or COURT")
        if self.amount <= 0:
            raise ValueError(f"amount {self.amount} is not a positive number of base units")


@dataclass(frozen=True)
class Violation:
    code: str  # legal-hold, sanctioned-destination, sanctioned-source, sanctions-list-stale,
    # no-usd-price, blocked-by-rule, no-rule-matched
    detail: str


@dataclass(frozen=True)
class Evaluation:
    """The decision, with the versions of the policy and the sanctions lists it was made under."""

    policy_version: str
    policy_sha256: str
    rule: str | None
    action: str
    approvals: ApprovalDemand | None
    violations: tuple[Violation, ...]
    destination_kind: DestinationKind
    sanctions_sha256: str
    sanctions_as_of: date
    timelock: timedelta

    @property
    def allowed(self) -> bool:
        """No violation; the transfer may still need approvals and wait out the time lock."""
        return not self.violations

    def to_json(self) -> dict[str, Any]:
        """JSON values in a fixed shape, for storage next to the transfer."""
        demand = self.approvals
        return {
            "policy_version": self.policy_version,
            "policy_sha256": self.policy_sha256,
            "rule": self.rule,
            "action": self.action,
            "approvals": None
            if demand is None
            else {"count": demand.count, "roles": sorted(demand.roles)},
            "violations": [{"code": v.code, "detail": v.detail} for v in self.violations],
            "destination_kind": self.destination_kind.value,
            "sanctions_sha256": self.sanctions_sha256,
            "sanctions_as_of": self.sanctions_as_of.isoformat(),
            "timelock_seconds": int(self.timelock.total_seconds()),
            "allowed": self.allowed,
        }


def _matches(when: RuleCondition, facts: TransferFacts, kind: DestinationKind) -> bool | None:
    """True or False; None when everything but the USD conditions matched and there is no price."""
    roles = facts.initiator_roles
    plain = (
        (when.initiator_roles is None or not roles.isdisjoint(when.initiator_roles))
        and (when.initiator_lacks_roles is None or roles.isdisjoint(when.initiator_lacks_roles))
        and (when.source_vaults is None or facts.source_vault in when.source_vaults)
        and (when.source_tiers is None or facts.source_tier in when.source_tiers)
        and (when.destinations is None or kind.value in when.destinations)
        and (when.assets is None or facts.asset in when.assets)
        and (when.min_units is None or facts.amount >= when.min_units)
        and (when.max_units is None or facts.amount < when.max_units)
    )
    if not plain or not when.uses_usd:
        return plain
    usd = facts.amount_usd
    if usd is None:
        return None
    return (
        (when.min_usd is None or usd >= when.min_usd)
        and (when.max_usd is None or usd < when.max_usd)
        and (
            when.velocity_usd_over is None or facts.velocity_usd_24h + usd > when.velocity_usd_over
        )
    )


def _sanctions_violations(
    sanctions: SanctionsList, facts: TransferFacts, max_age_days: int
) -> list[Violation]:
    version = f"lists {sanctions.sha256[:12]} as of {sanctions.as_of}"
    found = [
        Violation("sanctioned-destination", f"{address} is on the sanctions lists ({version})")
        for address in (facts.destination,)
        if address in sanctions
    ]
    seen: set[str] = set()
    for address in facts.incoming_sources:
        if address in sanctions and normalise_address(address) not in seen:
            seen.add(normalise_address(address))
            detail = f"{address} funded the coins and is on the sanctions lists ({version})"
            found.append(Violation("sanctioned-source", detail))
    if facts.outbound and is_stale(sanctions, facts.now, max_age_days):
        age = list_age_days(sanctions, facts.now)
        detail = f"{version} are {age} days old; an outbound transfer needs at most {max_age_days}"
        found.append(Violation("sanctions-list-stale", detail))
    return found


def evaluate(
    policy: TransferPolicy,
    policy_sha256: str,
    whitelist: Whitelist,
    sanctions: SanctionsList,
    facts: TransferFacts,
) -> Evaluation:
    """The first matching rule's decision plus every violation of the always-on checks."""
    kind = facts.destination_kind
    if kind is DestinationKind.OTHER and whitelist.contains(facts.destination, facts.asset):
        kind = DestinationKind.WHITELISTED
    violations: list[Violation] = []
    if facts.legal_hold:
        violations.append(Violation("legal-hold", "the coins are under legal hold"))
    violations += _sanctions_violations(sanctions, facts, policy.settings.sanctions_max_age_days)
    chosen: PolicyRule | None = None
    for rule in policy.rules:
        matched = _matches(rule.when, facts, kind)
        if matched is None:
            day = facts.now.astimezone(UTC).date()
            detail = (
                f"no USD price for {facts.asset} on {day}, the USD conditions of rule "
                f'"{rule.name}" cannot be evaluated'
            )
            violations.append(Violation("no-usd-price", detail))
        elif matched:
            chosen = rule
            break
    if chosen is None:
        detail = f"no rule of policy {policy.version} matches; what no rule allows is refused"
        violations.append(Violation("no-rule-matched", detail))
    elif chosen.action == "block":
        violations.append(Violation("blocked-by-rule", f'rule "{chosen.name}" blocks it'))
    hours = policy.settings.cold_timelock_hours if facts.source_tier == "cold" else 0
    return Evaluation(
        policy_version=policy.version,
        policy_sha256=policy_sha256,
        rule=None if chosen is None else chosen.name,
        action="block" if chosen is None else chosen.action,
        approvals=None if chosen is None else chosen.approvals,
        violations=tuple(violations),
        destination_kind=kind,
        sanctions_sha256=sanctions.sha256,
        sanctions_as_of=sanctions.as_of,
        timelock=timedelta(hours=hours),
    )


def approval_problems(
    evaluation: Evaluation, *, initiator: str, approvers: Sequence[tuple[str, frozenset[str]]]
) -> tuple[int, list[Problem]]:
    """(approvals still needed, why each approval that does not count does not).

    Only distinct approvers holding a demanded role count; the initiator never does. A transfer
    may be signed when ``evaluation.allowed``, nothing is needed and the time lock has run out.
    """
    where = "transfer approvals"
    problems: list[Problem] = []
    demand = evaluation.approvals
    if evaluation.action == "block":
        reason = f"rule {evaluation.rule or '(none matched)'} blocks it; no approval releases it"
        problems.append(Problem(where, "action", reason))
    seen: set[str] = set()
    counted: set[str] = set()
    for i, (approver, roles) in enumerate(approvers):
        field = f"approvers[{i}]"
        if approver == initiator:
            reason = f"{approver} initiated the transfer: approving your own request does not count"
            problems.append(Problem(where, field, reason))
        elif approver in seen:
            problems.append(Problem(where, field, f"{approver} approved already; counted once"))
        elif demand is not None and roles.isdisjoint(demand.roles):
            wanted = ", ".join(sorted(demand.roles))
            problems.append(Problem(where, field, f"{approver} holds none of: {wanted}"))
        elif demand is not None:
            counted.add(approver)
        seen.add(approver)
    needed = 0 if demand is None else max(0, demand.count - len(counted))
    return needed, problems


def signing_opens_at(final_approval_at: datetime, evaluation: Evaluation) -> datetime:
    """When the signers may sign: the final approval plus the time lock (cold vaults only)."""
    if final_approval_at.utcoffset() is None:
        raise ValueError("final_approval_at must be a tz-aware datetime")
    return final_approval_at + evaluation.timelock
