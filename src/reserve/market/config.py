"""The market configuration: the fixing method, the price sources per asset, the USD/KZT series.

Read from TOML (``config/market.toml``) and validated here, so a typo is refused with its place
named instead of quietly leaving an asset with one source. Numbers that are money or percentages
must be written as strings or integers: a TOML float would already have lost the digits.
"""

from __future__ import annotations

import tomllib
from collections import Counter

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from reserve.core.errors import InvalidInput, Problem
from reserve.market.fix import FixMethod
from reserve.market.prices import SourceSpec


class RatesSpec(BaseModel):
    """Where the daily USD/KZT rates are, and how many days old a rate may be when used."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    file: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}\.csv$")
    column: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")
    max_age_days: int = Field(ge=0, le=31)


class MarketConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    method: FixMethod
    sources: list[SourceSpec] = Field(min_length=1)
    rates: RatesSpec

    def sources_of(self, asset: str) -> list[SourceSpec]:
        return [s for s in self.sources if s.asset == asset]

    def assets(self) -> list[str]:
        """The assets with sources, USDT first: the other USDT-quoted sources need its fix."""
        found = sorted({s.asset for s in self.sources})
        return sorted(found, key=lambda asset: asset != "USDT")


def parse_market_config(text: str, where: str) -> MarketConfig:
    """The configuration in ``text`` (TOML), or one ``InvalidInput`` naming every problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise InvalidInput.one(where, "file", f"is not valid TOML: {error}") from None
    try:
        config = MarketConfig.model_validate(data)
    except ValidationError as error:
        raise InvalidInput(
            [
                Problem(where, ".".join(str(p) for p in e["loc"]) or "config", e["msg"])
                for e in error.errors()
            ]
        ) from None
    problems = _source_problems(config.sources, where)
    if problems:
        raise InvalidInput(problems)
    return config


def _source_problems(sources: list[SourceSpec], where: str) -> list[Problem]:
    problems: list[Problem] = []
    twice = Counter((s.asset, s.name) for s in sources)
    for (asset, name), count in sorted(twice.items()):
        if count > 1:
            problems.append(Problem(where, "sources", f"{asset} source {name!r} is listed twice"))
    for index, spec in enumerate(sources):
        if spec.quote == "KZT":
            reason = f"{spec.asset} from {spec.name} is quoted in KZT; fix sources are USD or USDT"
            problems.append(Problem(where, f"sources.{index}.quote", reason))
        elif spec.quote == "USDT" and spec.asset == "USDT":
            reason = "USDT quoted in USDT says nothing about its USD price"
            problems.append(Problem(where, f"sources.{index}.quote", reason))
    usdt_quoted = [s for s in sources if s.quote == "USDT"]
    if usdt_quoted and not any(s.asset == "USDT" and s.quote == "USD" for s in sources):
        names = ", ".join(f"{s.asset}/{s.name}" for s in usdt_quoted)
        reason = f"{names} quoted in USDT, but no USDT source quoted in USD to convert them"
        problems.append(Problem(where, "sources", reason))
    return problems
