"""Vaults: multisig descriptor wallets whose keys sit in different cities.

A vault spends with M of its N keys. Where the keys sit is what keeps it safe, so a vault is
refused when one site alone holds M keys (one break-in spends it), when losing any one site leaves
fewer than M keys (one fire strands it), or when all keys come from one organisational unit (one
department could collude). An optional recovery key may spend alone after a relative timelock of
N blocks (BIP68/112, written in miniscript), so a lost quorum is not a lost reserve; the rule lives
in the script, where no co-signer can bypass it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from reserve.core.errors import Problem
from reserve.custody.descriptors import NETWORK_NAMES, VaultScript
from reserve.custody.keys import KeyHolder, VaultKey, key_problems

VAULT_NAME: Final = re.compile(r"^[a-z][a-z0-9-]{2,39}$")
MAX_KEYS: Final = 15  # P2WSH multisig stays standard up to 15 keys in every node's policy
MAX_RELATIVE_BLOCKS: Final = 0xFFFF  # BIP68 block-based relative lock


class Tier(StrEnum):
    """How far a vault's keys are from a network: cold keys never touch one."""

    COLD = "cold"
    WARM = "warm"
    HOT = "hot"


@dataclass(frozen=True)
class Recovery:
    """A key that may spend alone once the coins have sat ``after_blocks`` blocks unmoved."""

    key: VaultKey
    after_blocks: int


@dataclass(frozen=True)
class VaultSpec:
    name: str
    fund: str
    asset: str
    tier: Tier
    network: str
    threshold: int
    keys: tuple[VaultKey, ...]
    recovery: Recovery | None = None

    def script(self) -> VaultScript:
        return VaultScript(
            name=self.name,
            network=self.network,
            threshold=self.threshold,
            external=descriptor(self, change=False),
            internal=descriptor(self, change=True),
        )


def descriptor(spec: VaultSpec, *, change: bool) -> str:
    """The vault's receive (``/0/*``) or change (``/1/*``) descriptor, without checksum.

    Without recovery the keys are ``sortedmulti`` (order-free, as wallets expect). With recovery
    the script is miniscript ``or_d(multi(M, ...), and_v(v:pkh(R), older(N)))``: miniscript has no
    sortedmulti, so the keys are written in key-id order, which is fixed once the vault exists.
    """
    branch = "1" if change else "0"
    if spec.recovery is None:
        keys = ",".join(f"{k.origin()}/{branch}/*" for k in spec.keys)
        return f"wsh(sortedmulti({spec.threshold},{keys}))"
    ordered = sorted(spec.keys, key=lambda k: k.key_id)
    keys = ",".join(f"{k.origin()}/{branch}/*" for k in ordered)
    rescue = f"{spec.recovery.key.origin()}/{branch}/*"
    return (
        f"wsh(or_d(multi({spec.threshold},{keys}),"
        f"and_v(v:pkh({rescue}),older({spec.recovery.after_blocks}))))"
    )


def vault_problems(spec: VaultSpec, holders: Mapping[str, KeyHolder]) -> list[Problem]:
    """Every way the vault breaks the naming, key, site or unit rules."""
    where = f"vault {spec.name}"
    problems: list[Problem] = []
    if not VAULT_NAME.match(spec.name):
        problems.append(Problem(where, "name", "must be 3-40 lower-case letters, digits or '-'"))
    if spec.network not in NETWORK_NAMES:
        problems.append(Problem(where, "network", f"must be one of {', '.join(NETWORK_NAMES)}"))
        return problems
    n = len(spec.keys)
    if not 1 <= spec.threshold <= n or n > MAX_KEYS:
        problems.append(
            Problem(where, "threshold", f"{spec.threshold}-of-{n} needs 1 <= M <= N <= {MAX_KEYS}")
        )
    all_keys = [*spec.keys, *([spec.recovery.key] if spec.recovery else [])]
    for key in all_keys:
        problems += key_problems(key, network=spec.network, where=f"{where} key {key.key_id}")
        if key.holder not in holders:
            problems.append(Problem(f"{where} key {key.key_id}", "holder", "is not a key holder"))
    for field, values in (
        ("xpub", [k.xpub for k in all_keys]),
        ("key", [k.key_id for k in all_keys]),
    ):
        for value, count in Counter(values).items():
            if count > 1:
                problems.append(Problem(where, field, f"{value} appears {count} times"))
    if spec.recovery is not None and not 1 <= spec.recovery.after_blocks <= MAX_RELATIVE_BLOCKS:
        problems.append(
            Problem(where, "recovery.after_blocks", f"must be 1..{MAX_RELATIVE_BLOCKS} blocks")
        )
    known = [holders[k.holder] for k in spec.keys if k.holder in holders]
    if len(known) == n and n:
        problems += _dispersal_problems(where, spec.threshold, known)
    return problems


def _dispersal_problems(where: str, threshold: int, holders: list[KeyHolder]) -> list[Problem]:
    problems: list[Problem] = []
    per_site = Counter(h.site for h in holders)
    for site, count in sorted(per_site.items()):
        if count >= threshold:
            problems.append(
                Problem(
                    where,
                    "sites",
                    f"{site} holds {count} keys, enough to spend alone (M={threshold})",
                )
            )
        if len(holders) - count < threshold:
            problems.append(
                Problem(
                    where,
                    "sites",
                    f"losing {site} leaves {len(holders) - count} keys, fewer than M={threshold}",
                )
            )
    units = {h.unit for h in holders}
    if len(units) < 2:
        problems.append(
            Problem(
                where,
                "units",
                f"all keys come from {', '.join(sorted(units))}; need two units or more",
            )
        )
    return problems
