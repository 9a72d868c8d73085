"""The valuation policy: decisions, not code.

Which IAS 38 model (or fair value through P&L) the books follow, the denominator the reserve's
share of the country's reserves is measured against, and the alert thresholds. It is read from a
TOML file (``config/valuation.toml``) and every valuation records which basis it used, so a
figure can always be read with the policy then in force.

The national-reserves figure is configuration, not a fact the code knows: a named amount, dated,
with its source, so a share printed next to it says what it was divided by.

Parsing refuses what a reviewer could misread: unknown keys (a misspelt threshold would silently
fall back to a default) and floats where money, prices or counts go (``0.98`` as a TOML float is
not the decimal 0.98).
"""

from __future__ import annotations

import tomllib
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from reserve.core.errors import InvalidInput, Problem

Basis = Literal["ias38-cost", "ias38-revaluation", "fair-value"]
AssetCode = Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9]{1,11}$")]  # the ledger's asset codes


def _no_float(value: Any) -> Any:
    """Money, prices and counts are exact: TOML floats (and booleans posing as 0/1) are refused."""
    if isinstance(value, float):
        raise ValueError(f'write {value} as an integer or a string such as "0.98", not a float')
    if isinstance(value, bool):
        raise ValueError("must be a number, not true/false")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class NationalReserves(_Strict):
    """The denominator of the reserve's share: total national reserves, named, dated, sourced."""

    name: str = Field(min_length=1, max_length=300)
    amount_usd: Decimal = Field(gt=0, allow_inf_nan=False)
    as_of: date
    source: str = Field(min_length=1, max_length=500)

    @field_validator("amount_usd", mode="before")
    @classmethod
    def _exact(cls, value: Any) -> Any:
        return _no_float(value)


class AlertThresholds(_Strict):
    """When a fix or a rate is worth a person's attention.

    ``peg_floor``: a stablecoin fix below it is a depeg (at most 1: a floor above the peg would
    alert every day). ``usd_kzt_move_pct``: a day-on-day USD/KZT move beyond this many percent.
    ``max_gap_days``: the most calendar days between two rates that still count as one day's
    move; the NBK series is calendar-filled, so 1, and a move is never computed across a hole.
    """

    stablecoins: list[AssetCode]
    peg_floor: Decimal = Field(gt=0, le=1, allow_inf_nan=False)
    usd_kzt_move_pct: Decimal = Field(gt=0, allow_inf_nan=False)
    max_gap_days: int = Field(default=1, ge=1, le=31)

    @field_validator("peg_floor", "usd_kzt_move_pct", "max_gap_days", mode="before")
    @classmethod
    def _exact(cls, value: Any) -> Any:
        return _no_float(value)


class ValuationPolicy(_Strict):
    basis: Basis
    national_reserves: NationalReserves
    alerts: AlertThresholds


def parse_valuation_policy(text: str, where: str) -> ValuationPolicy:
    """The policy written in ``text`` (TOML), or one ``InvalidInput`` naming every problem.

    ``where`` names the file in the problems (``config/valuation.toml: alerts.peg_floor: ...``).
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise InvalidInput.one(where, "toml", str(error)) from None
    try:
        return ValuationPolicy.model_validate(data)
    except ValidationError as error:
        raise InvalidInput(
            [
                Problem(where, ".".join(str(p) for p in e["loc"]) or "policy", e["msg"])
                for e in error.errors()
            ]
        ) from None
