"""Where a vault's scripts sit, re-derived by index, and what a PSBT claims about them.

A PSBT may say "this output is your change at index 7" by carrying BIP32 derivations with the
vault's fingerprints. A tampered coordinator can say anything there, so nothing here believes a
claim: the claim only names an index to try, and an output (or input) belongs to the vault only
when embit, deriving from the vault's own descriptor at that index, produces the same script.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

from embit.descriptor import Descriptor
from embit.script import Script

from reserve.custody.descriptors import VaultScript, embit_network

#: BIP32 indexes at or above this are hardened; a vault's wildcard step never is
HARDENED: Final = 0x80000000
#: how far check_transaction looks for a change address when it is not told the index
CHANGE_LOOKAHEAD: Final = 1000


@dataclass(frozen=True)
class DerivedScript:
    """One vault address: its output script, its witness script and the keys in script order."""

    change: bool
    index: int
    script_pubkey: bytes
    witness_script: bytes
    pubkeys: tuple[bytes, ...]  # compressed SEC keys, in the order CHECKMULTISIG reads them

    @property
    def required(self) -> int:
        """M as the witness script itself encodes it (OP_1..OP_16), which the interpreter obeys."""
        return self.witness_script[0] - 0x50


@dataclass(frozen=True)
class KeyOrigin:
    """A vault key's master fingerprint and the path from that master to its account xpub."""

    fingerprint: bytes
    path: tuple[int, ...]
    xpub: str


@lru_cache(maxsize=64)
def _descriptor(text: str) -> Descriptor:
    return Descriptor.from_string(text)


@lru_cache(maxsize=8192)
def derive(vault: VaultScript, *, change: bool, index: int) -> DerivedScript:
    """Receive (or change) address ``index`` of the vault, computed by embit from the descriptor.

    Cached: a check re-derives the same few addresses many times, and VaultScript is immutable.
    """
    derived = _descriptor(vault.internal if change else vault.external).derive(index)
    witness_script = bytes(derived.witness_script().data)
    pubkeys = [bytes(key.get_public_key().sec()) for key in derived.keys]
    if derived.is_sorted:  # sortedmulti: BIP67 order, which is the order in the script
        pubkeys.sort()
    return DerivedScript(
        change=change,
        index=index,
        script_pubkey=bytes(derived.script_pubkey().data),
        witness_script=witness_script,
        pubkeys=tuple(pubkeys),
    )


@lru_cache(maxsize=64)
def key_origins(vault: VaultScript) -> tuple[KeyOrigin, ...]:
    """Every key of the vault as its descriptor names it (the same for receive and change)."""
    origins = []
    for key in _descriptor(vault.external).keys:
        xpub = key.key.to_string(version=embit_network(vault.network)["xpub"])
        origins.append(KeyOrigin(bytes(key.fingerprint), tuple(key.derivation), xpub))
    return tuple(origins)


def claimed_paths(vault: VaultScript, derivations: Mapping[Any, Any]) -> set[tuple[int, int]]:
    """The (branch, index) pairs a PSBT scope's BIP32 derivations claim under a vault key.

    Only a claim: a derivation counts when its fingerprint and path prefix are one of the vault's
    key origins followed by exactly two unhardened steps. Callers must re-derive to believe it.
    """
    claims = set()
    for path in derivations.values():
        steps = tuple(path.derivation)
        for origin in key_origins(vault):
            rest = steps[len(origin.path) :]
            if (
                bytes(path.fingerprint) == origin.fingerprint
                and steps[: len(origin.path)] == origin.path
                and len(rest) == 2  # (branch, index)
                and all(step < HARDENED for step in rest)
            ):
                claims.add((rest[0], rest[1]))
    return claims


def mentions_vault_key(vault: VaultScript, derivations: Mapping[Any, Any]) -> bool:
    """Whether any derivation names one of the vault's master fingerprints at all."""
    fingerprints = {origin.fingerprint for origin in key_origins(vault)}
    return any(bytes(path.fingerprint) in fingerprints for path in derivations.values())


def change_index(vault: VaultScript, script_pubkey: bytes, candidates: Iterable[int]) -> int | None:
    """The first candidate index whose change address, re-derived, is this very script."""
    for index in candidates:
        if derive(vault, change=True, index=index).script_pubkey == script_pubkey:
            return index
    return None


def p2wsh_program(witness_script: bytes) -> bytes:
    """The output script a witness script is committed to: OP_0 <sha256(witness_script)>."""
    return b"\x00\x20" + hashlib.sha256(witness_script).digest()


def describe_script(script_pubkey: bytes, network: str) -> str:
    """An address when the script has one, else the script in hex: what a person can compare."""
    try:
        return str(Script(script_pubkey).address(embit_network(network)))
    except (ValueError, IndexError):
        return f"script {script_pubkey.hex()}"
