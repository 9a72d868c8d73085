"""Key holders, the sites where their keys sit, and the public half of each key.

The reserve never holds a private key. It knows each key by its extended public key, the
fingerprint of the master key it came from and the derivation path between them: exactly what a
descriptor's key origin ``[fingerprint/path]xpub`` says, so a signer can recognise its own key.
A key is refused when its xpub does not belong to the reserve's network or fails its checksum,
because a mainnet key in a regtest vault (or the reverse) would make addresses nobody can spend.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from embit import base58, bip32

from reserve.core.errors import Problem
from reserve.custody.descriptors import embit_network

FINGERPRINT: Final = re.compile(r"^[0-9a-f]{8}$")
PATH: Final = re.compile(r"^m(/[0-9]+[h']?)+$")
SITE: Final = re.compile(r"^[A-Z][A-Za-z -]{1,39}$")


@dataclass(frozen=True)
class KeyHolder:
    """A person who keeps vault keys at a site (a city), within an organisational unit."""

    holder: str  # the user's handle
    unit: str
    site: str


@dataclass(frozen=True)
class VaultKey:
    """The public half of one key: who holds it and its descriptor origin."""

    key_id: str
    holder: str
    fingerprint: str
    path: str  # m/48h/1h/0h/2h
    xpub: str

    def origin(self) -> str:
        """``[fingerprint/48h/1h/0h/2h]xpub`` as it appears in a descriptor."""
        return f"[{self.fingerprint}{self.path[1:]}]{self.xpub}"


def normalise_path(path: str) -> str:
    """``m/48'/1'/0'/2'`` and ``m/48h/1h/0h/2h`` are the same path; keep the ``h`` form."""
    return path.strip().replace("'", "h")


def key_problems(key: VaultKey, *, network: str, where: str) -> list[Problem]:
    """Every way the key is malformed or belongs to another network."""
    problems: list[Problem] = []
    if not FINGERPRINT.match(key.fingerprint):
        problems.append(Problem(where, "fingerprint", "must be 8 lower-case hex digits"))
    if not PATH.match(key.path):
        problems.append(
            Problem(where, "path", f"{key.path!r} is not a path such as m/48h/1h/0h/2h")
        )
    try:
        raw = base58.decode_check(key.xpub)
    except (ValueError, TypeError) as bad:
        problems.append(Problem(where, "xpub", f"bad base58 checksum or encoding ({bad})"))
        return problems
    params = embit_network(network)
    if raw[:4] != params["xpub"]:
        problems.append(
            Problem(where, "xpub", f"is not an extended public key for the {network} network")
        )
        return problems
    try:
        parsed = bip32.HDKey.parse(raw)
    except (ValueError, TypeError) as bad:
        problems.append(Problem(where, "xpub", f"not a valid extended key ({bad})"))
        return problems
    if parsed.is_private:
        problems.append(Problem(where, "xpub", "is a private key; the reserve holds public keys"))
    return problems


def site_problems(site: str, *, where: str) -> list[Problem]:
    if SITE.match(site):
        return []
    return [Problem(where, "site", f"{site!r} must be a city name such as Astana")]
