"""The market configuration: the fixing method, the price sources per asset, the USD/KZT series.

Read from TOML (``config/market.toml``) and validated here, so a typo is refused with its place
named instead of quietly leaving an asset with one source. Numbers that are money or percentages
must be written as strings or integers: a TOML float would already have lost the digits.
"""

from __future__ import annotations

import tomllib
from collections import Counter
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import ErrorDetails

from reserve.core.errors import InvalidInput, Problem
from reserve.market.fix import FixMethod
from reserve.market.prices import (
    SPEC_FIELDS,
    ColumnName,
    FileName,
    HttpUrl,
    SourceSpec,
    kind_problems,
    refuse_fields,
)


class RatesSpec(BaseModel):
    """Where the daily USD/KZT rates come from, and how many days old a rate may be when used.

    ``kind = "file"`` reads ``column`` of ``file`` in the prices folder; ``kind = "nbk"`` asks
    the National Bank of Kazakhstan for its official rate, one request per day from ``start``
    (``base_url`` replaces the Bank's address: a mirror, a test server).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["file", "nbk"] = "file"
    file: FileName | None = None
    column: ColumnName | None = None
    base_url: HttpUrl | None = None
    start: date | None = None
    max_age_days: int = Field(ge=0, le=31)

    @model_validator(mode="after")
    def _fields_of_kind(self) -> RatesSpec:
        if self.kind == "file":
            problems = kind_problems(
                "file",
                needs={"file": self.file, "column": self.column},
                refuses={"base_url": self.base_url, "start": self.start},
            )
        else:
            problems = kind_problems(
                "nbk",
                needs={"start": self.start},
                refuses={"file": self.file, "column": self.column},
            )
        refuse_fields(problems)
        return self


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
        raise InvalidInput([p for e in error.errors() for p in _problems(e, where)]) from None
    problems = _source_problems(config.sources, where)
    if problems:
        raise InvalidInput(problems)
    return config


def _problems(error: ErrorDetails, where: str) -> list[Problem]:
    """One pydantic error as problems; a spec's wrong fields (``refuse_fields``) one each."""
    at = ".".join(str(p) for p in error["loc"])
    if error["type"] != SPEC_FIELDS:
        return [Problem(where, at or "config", error["msg"])]
    context: dict[str, Any] = error.get("ctx") or {}
    return [
        Problem(where, f"{at}.{field}" if at else field, reason)
        for field, reason in context["problems"]
    ]


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
