"""Sanctions screening: every address a transfer touches, against every list at once.

The lists are OFAC's SDN digital-currency addresses, one file per ticker (``data/sanctions``).
The ticker labels are not reliable (a Tron address sits in the Bitcoin list), so an address is
screened against the UNION of all lists, never only the list of its own chain. Addresses are
compared in a normal form, because the same address has several spellings:

* EVM addresses (``0x`` + 40 hex) are case-insensitive; EIP-55 mixed case is only a checksum.
* bech32 addresses (``bc1``, ``tb1``, ``bcrt1``, ``ltc1``) may be written all upper case
  (QR codes do); all upper and all lower case are the same address.
* Bitcoin Cash cashaddr may carry the ``bitcoincash:`` prefix the lists leave out.

Everything else (base58, Monero, the odd 64-hex string in the XMR list) is compared as written:
base58 is case-sensitive, and lower-casing it would produce false hits, not catch evasions.

A list is versioned by a sha256 over its files' names and exact contents, stored with every
decision made against it, together with the date the lists were regenerated (``as_of``): lists
go stale, and a decision must show which version it relied on.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Final

from reserve.core.errors import InvalidInput

_EVM: Final = re.compile(r"^0[xX][0-9a-fA-F]{40}$")
_BECH32_PREFIXES: Final = ("bc1", "tb1", "bcrt1", "ltc1", "tltc1")
_CASHADDR_PREFIX: Final = "bitcoincash:"
LIST_SUFFIX: Final = ".txt"


def normalise_address(address: str) -> str:
    """The spelling two equal addresses share (see the module docstring for which are equal)."""
    text = address.strip()
    if _EVM.match(text):
        return "0x" + text[2:].lower()
    lower = text.lower()
    uniform_case = text in (lower, text.upper())
    if lower.startswith(_CASHADDR_PREFIX) and uniform_case:
        return lower.removeprefix(_CASHADDR_PREFIX)
    if lower.startswith(_BECH32_PREFIXES) and uniform_case:
        # bech32 forbids mixed case; a mixed-case string is no address and stays as written
        return lower
    return text


@dataclass(frozen=True)
class SanctionsList:
    """The union of every list file, normalised, with the version it was built from."""

    entries: frozenset[str]
    sha256: str
    as_of: date  # the day the lists were regenerated from the SDN, not the day they were copied
    lists: tuple[str, ...]  # the file names that went into the union, sorted

    def __contains__(self, address: object) -> bool:
        return isinstance(address, str) and normalise_address(address) in self.entries


def lists_sha256(files: Mapping[str, str]) -> str:
    """sha256 over the files sorted by name, each as its name and its exact UTF-8 bytes.

    Each part is length-prefixed, so no two different sets of files hash alike by moving text
    from one file's end to the next file's name.
    """
    digest = hashlib.sha256()
    for name in sorted(files):
        for part in (name.encode("utf-8"), files[name].encode("utf-8")):
            digest.update(len(part).to_bytes(8, "big"))
            digest.update(part)
    return digest.hexdigest()


def build_sanctions_list(files: Mapping[str, str], as_of: date) -> SanctionsList:
    """The union of every ``.txt`` list in ``files`` (file name -> text, one address a line).

    Other files (the ``.json`` copies, checksums) are left out of the union and of the sha256.
    No list at all is refused: an empty union would pass every address, silently.
    """
    lists = {name: text for name, text in files.items() if name.endswith(LIST_SUFFIX)}
    if not lists:
        raise InvalidInput.one("sanctions", "lists", f"no {LIST_SUFFIX} list was given")
    entries = frozenset(
        normalise_address(line)
        for text in lists.values()
        for line in text.splitlines()
        if line.strip()
    )
    if not entries:
        raise InvalidInput.one("sanctions", "lists", "the lists hold no address at all")
    return SanctionsList(
        entries=entries, sha256=lists_sha256(lists), as_of=as_of, lists=tuple(sorted(lists))
    )


def screen(sanctions: SanctionsList, addresses: Iterable[str]) -> list[str]:
    """The addresses (as given, in order, each once) that are on any list."""
    hits: list[str] = []
    for address in addresses:
        if address in sanctions and address not in hits:
            hits.append(address)
    return hits


def list_age_days(sanctions: SanctionsList, now: datetime) -> int:
    """Whole days from the lists' regeneration to ``now``'s UTC date."""
    if now.tzinfo is None:
        raise ValueError("now must be a tz-aware datetime")
    return (now.astimezone(UTC).date() - sanctions.as_of).days


def is_stale(sanctions: SanctionsList, now: datetime, max_age_days: int) -> bool:
    """True once the lists are OLDER than ``max_age_days``: at exactly that age they still do."""
    return list_age_days(sanctions, now) > max_age_days
