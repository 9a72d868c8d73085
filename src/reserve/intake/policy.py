"""The intake policy: the rules intake follows that are decisions, not code.

The share of mining output to sell and from when, the venues licensed to sell it through, how
retained output is costed, the investment committee's quorum, and how old a USD/KZT rate may be.
It is read from a TOML file (``config/intake.toml`` by default), validated here, and its sha256 is
stored on everything decided under it, so any record can be traced to the rules then in force.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from reserve.core.errors import InvalidInput, Problem
from reserve.intake.mining import SaleRule, rule_problems


class CostBasis(StrEnum):
    """How retained mining output is costed (the accounting policy)."""

    PRODUCTION_COST = "production-cost"  # the period's energy cost, pro rata
    FAIR_VALUE = "fair-value"  # the fair value at receipt, given with the report


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SaleRuleConfig(_Strict):
    effective_from: date
    sell_share: Decimal
    source: str = ""

    @field_validator("sell_share", mode="before")
    @classmethod
    def _no_float(cls, value: Any) -> Any:
        if isinstance(value, float):
            raise ValueError('write the share as a string, e.g. "0.75", not a float')
        return value


class MiningConfig(_Strict):
    cost_basis: CostBasis = CostBasis.PRODUCTION_COST
    sale_rules: list[SaleRuleConfig] = Field(min_length=1)


class Venue(_Strict):
    """A venue licensed to take the reserve's and the miners' sales, within its licence dates."""

    code: str = Field(pattern=r"^[A-Z0-9][A-Z0-9-]{0,39}$")
    name: str = Field(min_length=1, max_length=200)
    regulator: str = ""
    licensed_from: date
    licensed_until: date | None = None

    def licensed_on(self, day: date) -> bool:
        return self.licensed_from <= day and (
            self.licensed_until is None or day <= self.licensed_until
        )


class CommitteeConfig(_Strict):
    quorum: int = Field(ge=1, description="M: approvals a purchase needs, proposer excluded")


class RatesConfig(_Strict):
    max_age_days: int = Field(default=3, ge=0, le=31)


class IntakePolicy(_Strict):
    version: str = Field(min_length=1, max_length=40)
    mining: MiningConfig
    venues: list[Venue] = Field(min_length=1)
    committee: CommitteeConfig
    rates: RatesConfig = RatesConfig()

    def sale_rules(self) -> list[SaleRule]:
        return [SaleRule(r.effective_from, r.sell_share, r.source) for r in self.mining.sale_rules]

    def venue_problems(self, code: str, day: date, *, where: str) -> list[Problem]:
        """Why a sale through ``code`` on ``day`` is refused (empty when the venue may take it)."""
        venue = next((v for v in self.venues if v.code == code), None)
        if venue is None:
            known = ", ".join(v.code for v in self.venues)
            return [Problem(where, "venue", f"{code!r} is not a licensed venue ({known})")]
        if not venue.licensed_on(day):
            until = venue.licensed_until or "now"
            return [
                Problem(
                    where,
                    "venue",
                    f"{code} is licensed from {venue.licensed_from} to {until}, not on {day}",
                )
            ]
        return []


def parse_policy(data: Mapping[str, Any], *, where: str) -> IntakePolicy:
    """The policy in ``data`` (a parsed TOML document), or every problem with it."""
    try:
        policy = IntakePolicy.model_validate(data)
    except ValidationError as error:
        raise InvalidInput(
            [
                Problem(where, ".".join(str(p) for p in e["loc"]) or "policy", e["msg"])
                for e in error.errors()
            ]
        ) from None
    problems = [
        Problem(where, f"mining.sale_rules: {p.where}", p.reason)
        for p in rule_problems(policy.sale_rules())
    ]
    codes = [v.code for v in policy.venues]
    if len(codes) != len(set(codes)):
        problems.append(Problem(where, "venues", "a venue code is listed twice"))
    if problems:
        raise InvalidInput(problems)
    return policy


class PolicyInForce(_Strict):
    """A validated policy and the sha256 of the file it was read from."""

    policy: IntakePolicy
    sha256: str
