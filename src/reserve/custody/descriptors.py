"""A vault's scripts as output descriptors: what every other part of custody agrees on.

A vault is two descriptors, one for receive addresses (``/0/*``) and one for change (``/1/*``),
plus the number of signatures a spend needs. Builders (bdkpython), checkers and the offline
signer (embit) all start from these strings, so they can be compared byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from embit.descriptor import Descriptor
from embit.networks import NETWORKS

#: the reserve's network names, mapped to embit's
NETWORK_NAMES: Final = ("bitcoin", "testnet", "signet", "regtest")
_EMBIT: Final = {"bitcoin": "main", "testnet": "test", "signet": "signet", "regtest": "regtest"}


def embit_network(network: str) -> dict[str, Any]:
    """embit's parameters (bech32 prefix, xpub version bytes) for a network name."""
    return NETWORKS[_EMBIT[network]]  # type: ignore[no-any-return]


@dataclass(frozen=True)
class VaultScript:
    """What a spend from a vault must satisfy: its two descriptors and its threshold M."""

    name: str
    network: str
    threshold: int
    external: str
    internal: str

    def descriptor(self, *, change: bool) -> Descriptor:
        return Descriptor.from_string(self.internal if change else self.external)

    def script_pubkey(self, *, change: bool, index: int) -> bytes:
        """The output script of receive (or change) address ``index``, derived by embit."""
        return bytes(self.descriptor(change=change).derive(index).script_pubkey().data)

    def address(self, *, change: bool, index: int) -> str:
        derived = self.descriptor(change=change).derive(index)
        return str(derived.address(embit_network(self.network)))

    def to_backup(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "network": self.network,
            "threshold": self.threshold,
            "descriptors": {"external": self.external, "internal": self.internal},
        }

    @classmethod
    def from_backup(cls, backup: dict[str, Any]) -> VaultScript:
        """Read the script part of a vault backup (``reserve custody vault backup``)."""
        descriptors = backup["descriptors"]
        return cls(
            name=str(backup["name"]),
            network=str(backup["network"]),
            threshold=int(backup["threshold"]),
            external=str(descriptors["external"]),
            internal=str(descriptors["internal"]),
        )
