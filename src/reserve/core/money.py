"""Amounts in base units, prices as Decimal: the only place where whole units meet base units.

An amount is a Python ``int`` counted in the asset's smallest unit (satoshi, wei, ...). People
write whole units as decimal strings (``"1.5"`` BTC); this module turns those strings into base
units and back, exactly, and refuses floats and more decimals than the asset has.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from typing import Final

_DECIMAL_TEXT: Final = re.compile(r"^(?P<sign>[+-]?)(?P<int>\d+)(?:\.(?P<frac>\d+))?$")


class AmountError(ValueError):
    """A text that is not an exact amount of the asset."""


def to_base_units(text: object, decimals: int) -> int:
    """Parse a decimal string of whole units into base units; never rounds."""
    if isinstance(text, bool) or not isinstance(text, str):
        raise AmountError(f'must be a decimal string such as "1.5", not {type(text).__name__}')
    match = _DECIMAL_TEXT.match(text.strip())
    if match is None:
        raise AmountError(f"{text!r} is not a plain decimal number")
    frac = match["frac"] or ""
    if len(frac) > decimals:
        raise AmountError(f"{text!r} has {len(frac)} decimals; the asset has {decimals}")
    units: int = int(match["int"]) * 10**decimals + int(frac.ljust(decimals, "0") or "0")
    return -units if match["sign"] == "-" else units


def format_units(amount: int, decimals: int) -> str:
    """Render base units as whole units with every decimal the asset has."""
    sign = "-" if amount < 0 else ""
    whole, frac = divmod(abs(amount), 10**decimals)
    if decimals == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{frac:0{decimals}d}"


def to_whole_units(amount: int, decimals: int) -> Decimal:
    """Base units as an exact Decimal of whole units."""
    return Decimal(amount).scaleb(-decimals)


def round_to_base_units(value: Decimal, decimals: int, rounding: str = ROUND_HALF_UP) -> int:
    """A computed amount of whole units (a cost, proceeds) as base units, rounded as told:
    where a price times a quantity becomes a ledger amount."""
    with localcontext() as ctx:
        ctx.prec = 100  # exact for any amount NUMERIC(78,0) holds
        return int(value.scaleb(decimals).quantize(Decimal(1), rounding=rounding))


def parse_decimal(text: object) -> Decimal:
    """Parse a price or cost written as a decimal string (or int); floats are refused."""
    if isinstance(text, bool) or not isinstance(text, (str, int)):
        raise AmountError(f'must be a decimal string such as "1234.56", not {type(text).__name__}')
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise AmountError(f"{text!r} is not a decimal number") from None
    if not value.is_finite():
        raise AmountError(f"{text!r} is not a finite number")
    return canonical_decimal(value)


def canonical_decimal(value: Decimal) -> Decimal:
    """One spelling for one number (no trailing zeros, no exponent), so hashes are stable."""
    if value == 0:
        return Decimal(0)
    normal = value.normalize()
    sign, digits, exponent = normal.as_tuple()
    if isinstance(exponent, int) and exponent > 0:
        return Decimal((sign, digits + (0,) * exponent, 0))
    return normal


def decimal_text(value: Decimal) -> str:
    """The canonical string of a Decimal, never in exponent notation."""
    return format(canonical_decimal(value), "f")
