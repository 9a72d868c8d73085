"""The transfer policy and the whitelist as files: TOML validated by pydantic, errors by field.

The rules are decisions, not code, so they live in ``config/transfer_policy.toml`` and
``config/whitelist.toml``; the services store the sha256 of the bytes with every decision. Parsing
refuses what a reviewer could misread: unknown keys (a misspelt condition would silently match
more than meant), floats where money or counts go (``0.1`` is not exact), empty lists in a
condition (they would match nothing), two rules of one name, and rules that can never match.
Each problem names the file, the field path (``rules[2].approvals.count``) and the reason.

Amount ranges are half-open: ``min_units <= amount < max_units`` (likewise USD), so a rule for
"under USD 1,000,000" and one for "from USD 1,000,000" meet without overlap or gap.
"""

from __future__ import annotations

import tomllib
from collections.abc import Collection, Mapping, Sequence
from decimal import Decimal
from typing import Annotated, Any, Final, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic.dataclasses import dataclass as validated_dataclass

from reserve.core.errors import InvalidInput, Problem
from reserve.custody.sanctions import normalise_address

TIERS: Final = ("cold", "warm", "hot")
Action = Literal["allow", "approve", "block"]
RoleName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{1,39}$")]
Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")]
AssetCode = Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9]{1,11}$")]  # the ledger's asset codes
Tier = Literal["cold", "warm", "hot"]
Destination = Literal["whitelisted", "court", "other"]
_T = TypeVar("_T")


def _non_empty(value: Sequence[_T]) -> Sequence[_T]:
    # an after-validator, not min_length: a list whose one item is bad gets one error, not two
    if not value:
        raise ValueError("must list at least one; leave the key out to match any")
    return value


Some = Annotated[list[_T], AfterValidator(_non_empty)]


def _no_float(value: Any) -> Any:
    """Money and counts are exact: TOML floats (and booleans posing as 0/1) are refused."""
    if isinstance(value, float):
        raise ValueError(f'write {value} as an integer or a string such as "1000000", not a float')
    if isinstance(value, bool):
        raise ValueError("must be a number, not true/false")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


@validated_dataclass(frozen=True, config=ConfigDict(extra="forbid"))
class ApprovalDemand:
    """``count`` distinct approvers, each holding at least one of ``roles``, never the initiator."""

    count: Annotated[int, Field(ge=1)]
    roles: Annotated[tuple[RoleName, ...], AfterValidator(_non_empty)]

    @field_validator("count", mode="before")
    @classmethod
    def _exact(cls, value: Any) -> Any:
        return _no_float(value)


class RuleCondition(_Strict):
    """What a transfer must be for the rule to apply; a field left out matches anything.

    ``initiator_lacks_roles`` matches an initiator holding NONE of the roles, so "block a cold
    transfer not initiated by a custodian" can be written as one rule.
    """

    initiator_roles: Some[RoleName] | None = None
    initiator_lacks_roles: Some[RoleName] | None = None
    source_vaults: Some[Name] | None = None
    source_tiers: Some[Tier] | None = None
    destinations: Some[Destination] | None = None
    assets: Some[AssetCode] | None = None
    min_units: Annotated[int, Field(ge=0)] | None = None
    max_units: Annotated[int, Field(gt=0)] | None = None
    min_usd: Annotated[Decimal, Field(ge=0)] | None = None
    max_usd: Annotated[Decimal, Field(gt=0)] | None = None
    velocity_usd_over: Annotated[Decimal, Field(ge=0)] | None = None

    @field_validator(
        "min_units", "max_units", "min_usd", "max_usd", "velocity_usd_over", mode="before"
    )
    @classmethod
    def _exact(cls, value: Any) -> Any:
        return _no_float(value)

    @field_validator("max_units", "max_usd")
    @classmethod
    def _above_min(cls, value: Any, info: ValidationInfo) -> Any:
        low_name = "min_units" if info.field_name == "max_units" else "min_usd"
        low = info.data.get(low_name)
        if value is not None and low is not None and value <= low:
            raise ValueError(f"must be above {low_name} ({low}): the range is min <= x < max")
        return value

    @property
    def matches_everything(self) -> bool:
        return all(getattr(self, name) is None for name in type(self).model_fields)

    @property
    def uses_usd(self) -> bool:
        return any(v is not None for v in (self.min_usd, self.max_usd, self.velocity_usd_over))


class PolicyRule(_Strict):
    """One rule. ``when`` is required (``when = {}`` for a catch-all): a forgotten condition must
    not silently turn a rule into one that matches every transfer."""

    name: Name
    when: RuleCondition
    action: Action
    approvals: ApprovalDemand | None = Field(default=None, validate_default=True)

    @field_validator("approvals")
    @classmethod
    def _approvals_fit_action(cls, value: Any, info: ValidationInfo) -> Any:
        action = info.data.get("action")
        if action == "approve" and value is None:
            raise ValueError('action "approve" needs approvals = { count = N, roles = [...] }')
        if action in ("allow", "block") and value is not None:
            raise ValueError(f'action "{action}" takes no approvals; use action "approve"')
        return value


class PolicySettings(_Strict):
    cold_timelock_hours: Annotated[int, Field(ge=0)]
    sanctions_max_age_days: Annotated[int, Field(gt=0)]

    @field_validator("cold_timelock_hours", "sanctions_max_age_days", mode="before")
    @classmethod
    def _exact(cls, value: Any) -> Any:
        return _no_float(value)


class TransferPolicy(_Strict):
    version: Annotated[str, Field(min_length=1, max_length=40)]
    settings: PolicySettings
    rules: Annotated[list[PolicyRule], Field(min_length=1)]


class WhitelistEntry(_Strict):
    address: Annotated[str, Field(pattern=r"^\S{1,200}$")]
    asset: AssetCode
    label: Annotated[str, Field(min_length=1, max_length=200)]


class Whitelist(_Strict):
    """Destinations vetted in advance, each for one asset; a policy change governs it too."""

    version: Annotated[str, Field(min_length=1, max_length=40)]
    entries: list[WhitelistEntry] = Field(default_factory=list)

    def contains(self, address: str, asset: str) -> bool:
        wanted = (normalise_address(address), asset)
        return any((normalise_address(e.address), e.asset) == wanted for e in self.entries)


_M = TypeVar("_M", bound=BaseModel)


def _validated(model: type[_M], text: str, where: str) -> _M:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise InvalidInput.one(where, "file", f"is not valid TOML: {error}") from None
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise InvalidInput(
            [
                Problem(where, _path(e["loc"]), _reason(e["type"], e["msg"], e["loc"], data))
                for e in error.errors()
            ]
        ) from None


def _path(loc: Sequence[int | str]) -> str:
    """('rules', 2, 'approvals', 'count') -> 'rules[2].approvals.count'."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "file"


def _reason(kind: str, message: str, loc: Sequence[int | str], data: Mapping[str, Any]) -> str:
    reason = {"extra_forbidden": "unknown key", "missing": "is required"}.get(kind, message)
    reason = reason.removeprefix("Value error, ")
    if len(loc) > 2 and loc[0] == "rules" and isinstance(loc[1], int):  # name the rule too
        rules = data.get("rules")
        rule = rules[loc[1]] if isinstance(rules, list) and loc[1] < len(rules) else None
        if isinstance(rule, dict) and isinstance(rule.get("name"), str):
            reason += f' (rule "{rule["name"]}")'
    return reason


def parse_transfer_policy(
    text: str, where: str, *, known_roles: Collection[str] | None = None
) -> TransferPolicy:
    """The policy in ``text`` (TOML), or every problem with it, each naming ``where`` and field.

    With ``known_roles``, a role name that is not one of them is refused: a misspelt role in a
    condition would make a blocking rule silently never match.
    """
    policy = _validated(TransferPolicy, text, where)
    problems: list[Problem] = []
    first_by_name: dict[str, int] = {}
    catch_all: int | None = None
    for i, rule in enumerate(policy.rules):
        j = first_by_name.setdefault(rule.name, i)
        if j != i:
            reason = f'"{rule.name}" is the name of rules[{j}] already'
            problems.append(Problem(where, f"rules[{i}].name", reason))
        if catch_all is not None:
            reason = f"can never match: rules[{catch_all}] above it matches every transfer"
            problems.append(Problem(where, f"rules[{i}]", reason))
        elif rule.when.matches_everything:
            catch_all = i
        if known_roles is not None:
            problems += _unknown_roles(rule, f"rules[{i}]", known_roles, where)
    if problems:
        raise InvalidInput(problems)
    return policy


def _unknown_roles(rule: PolicyRule, at: str, known: Collection[str], where: str) -> list[Problem]:
    named = {
        "when.initiator_roles": rule.when.initiator_roles or [],
        "when.initiator_lacks_roles": rule.when.initiator_lacks_roles or [],
        "approvals.roles": rule.approvals.roles if rule.approvals else (),
    }
    listed = ", ".join(sorted(known))
    return [
        Problem(where, f"{at}.{field}[{k}]", f'"{role}" is not a role ({listed})')
        for field, roles in named.items()
        for k, role in enumerate(roles)
        if role not in known
    ]


def parse_whitelist(text: str, where: str) -> Whitelist:
    """The whitelist in ``text`` (TOML); an address listed twice for one asset is refused."""
    whitelist = _validated(Whitelist, text, where)
    problems: list[Problem] = []
    seen: dict[tuple[str, str], int] = {}
    for i, entry in enumerate(whitelist.entries):
        j = seen.setdefault((normalise_address(entry.address), entry.asset), i)
        if j != i:
            reason = f"{entry.address} for {entry.asset} is entries[{j}] already"
            problems.append(Problem(where, f"entries[{i}].address", reason))
    if problems:
        raise InvalidInput(problems)
    return whitelist
