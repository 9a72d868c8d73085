"""Users, their roles and the organisational units they belong to.

A user acts only through the roles they hold; an approval counts only when the approver holds a
role the approval rule names. Units matter because some rules want approvers from different
units (the legal department and the custody desk, not two clerks of one office). Users are
deactivated, never deleted, so the audit log and past approvals always name someone who existed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

USERNAME: Final = re.compile(r"^[a-z][a-z0-9._-]{1,39}$")
UNIT_CODE: Final = re.compile(r"^[A-Z][A-Z0-9-]{1,15}$")
MAX_NAME: Final = 200


class Role(StrEnum):
    """What a user may do; one user may hold several roles."""

    INTAKE_OFFICER = "intake-officer"  # records seizures, mining output and purchases
    LEGAL_OFFICER = "legal-officer"  # records court decisions, moves cases through the law
    COMMITTEE_MEMBER = "committee-member"  # votes on purchases and conversions
    CUSTODIAN = "custodian"  # holds keys, requests and signs transfers
    RISK_OFFICER = "risk-officer"  # sets and watches limits
    AUDITOR = "auditor"  # reads everything, verifies chains
    ADMINISTRATOR = "administrator"  # manages users and units


@dataclass(frozen=True)
class OrgUnit:
    code: str
    name: str


@dataclass(frozen=True)
class User:
    username: str
    full_name: str
    unit: str
    roles: frozenset[Role]
    active: bool = True

    def holds_any(self, roles: Iterable[Role]) -> bool:
        return not self.roles.isdisjoint(roles)

    @property
    def is_administrator(self) -> bool:
        return self.active and Role.ADMINISTRATOR in self.roles


def unit_problems(unit: OrgUnit) -> list[tuple[str, str]]:
    """(field, reason) for every way the unit definition is malformed."""
    problems: list[tuple[str, str]] = []
    if not UNIT_CODE.match(unit.code):
        problems.append(
            ("code", f"{unit.code!r} must be 2-16 capitals, digits and '-', e.g. LEGAL")
        )
    problems += _name_problems(unit.name)
    return problems


def user_problems(user: User) -> list[tuple[str, str]]:
    """(field, reason) for every way the user definition is malformed."""
    problems: list[tuple[str, str]] = []
    if not USERNAME.match(user.username):
        problems.append(
            (
                "username",
                f"{user.username!r} must be 2-40 lower-case letters, digits, '.', '_' or '-', "
                "starting with a letter",
            )
        )
    problems += [("full_name", reason) for _field, reason in _name_problems(user.full_name)]
    if not UNIT_CODE.match(user.unit):
        problems.append(("unit", f"{user.unit!r} is not a unit code such as LEGAL"))
    if not user.roles:
        problems.append(("roles", "a user needs at least one role"))
    return problems


def _name_problems(name: str) -> list[tuple[str, str]]:
    if not name.strip():
        return [("name", "must not be empty")]
    if len(name) > MAX_NAME:
        return [("name", f"is longer than {MAX_NAME} characters")]
    return []


def active_administrators(users: Iterable[User]) -> set[str]:
    """Who can still manage users: a change that would leave nobody here is refused."""
    return {u.username for u in users if u.is_administrator}
