"""What the reserve asks of a blockchain, whichever server answers: one small interface.

Custody needs to see the coins a vault's scripts hold, fetch a transaction, check a signed
transaction against the node's rules before anyone broadcasts it, broadcast it, and follow it
until it is buried. Two back ends answer those questions: a full node's JSON-RPC
(``chain_rpc.CoreRpc``) and an Esplora REST server (``chain_esplora.Esplora``).

Everything here speaks in output scripts (``script_pubkey`` bytes), never in addresses: an
address is only a network-specific spelling of a script (``bc1``/``tb1``/``bcrt1``/``rltc1``
all encode the same witness program), so working in scripts keeps the adapters independent of
the network and lets tests run against a Litecoin regtest node.

Amounts are satoshis as ``int``. Every failure to reach a source, every answer that makes no
sense, and every transaction a node refuses to relay raises ``ChainUnavailable``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Final, Protocol

from reserve.core.errors import ChainUnavailable, InvalidInput

#: satoshis in one coin; both node RPCs (Bitcoin Core, Litecoin Core) quote coins with 8 decimals
SATS_PER_COIN: Final = 100_000_000


@dataclass(frozen=True)
class ChainUtxo:
    """An unspent output paying one of the scripts asked about; ``height`` None = unconfirmed."""

    txid: str
    vout: int
    amount: int
    script_pubkey: bytes
    height: int | None


@dataclass(frozen=True)
class TxStatus:
    """Where a transaction stands. A transaction the source does not know has 0 confirmations,
    no block and is not in the mempool (never seen, dropped, or replaced)."""

    txid: str
    confirmations: int
    block_height: int | None
    in_mempool: bool


@dataclass(frozen=True)
class AcceptResult:
    """The node's verdict on a transaction it was asked to check but not to relay."""

    allowed: bool
    reason: str | None


class ChainSource(Protocol):
    """A blockchain as custody sees it. Implementations: ``CoreRpc`` and ``Esplora``."""

    def tip_height(self) -> int:
        """Height of the best block."""
        ...

    def utxos(self, scripts: Sequence[bytes]) -> list[ChainUtxo]:
        """Unspent outputs paying any of ``scripts``: confirmed ones and, where the source can
        tell, unconfirmed ones from the mempool (minus outputs a mempool transaction spends)."""
        ...

    def transaction(self, txid: str) -> bytes:
        """The raw serialized transaction (with witness data)."""
        ...

    def broadcast(self, raw: bytes) -> str:
        """Relay a signed transaction; returns its txid. A refusal raises ``ChainUnavailable``
        whose message carries the node's reject reason."""
        ...

    def test_accept(self, raw: bytes) -> AcceptResult:
        """Check a transaction against consensus and relay policy without broadcasting it."""
        ...

    def status(self, txid: str) -> TxStatus:
        """Confirmations, block height and mempool presence of a transaction."""
        ...


def coins_to_sats(value: object, *, what: str) -> int:
    """An amount quoted in whole coins (a JSON number parsed as ``Decimal``) as exact satoshis.

    A float, a negative value or anything finer than one satoshi means the source answered
    nonsense, and guessing a rounding would silently change the reserve's holdings.
    """
    if not isinstance(value, Decimal) or not value.is_finite():
        raise ChainUnavailable(f"{what}: expected a decimal amount, got {value!r}")
    sats = value * SATS_PER_COIN
    if sats < 0 or sats != sats.to_integral_value():
        raise ChainUnavailable(f"{what}: {value} is not a whole number of satoshis")
    return int(sats)


def sats_to_coins(amount: int) -> Decimal:
    """Satoshis as an exact Decimal of whole coins, for RPC parameters."""
    return Decimal(amount).scaleb(-8)


def check_txid(txid: str) -> str:
    """A txid is 64 lowercase hex characters; anything else would be spliced into a URL or an
    RPC call, so refuse it before it leaves the process."""
    lowered = txid.lower()
    if len(lowered) != 64 or any(c not in "0123456789abcdef" for c in lowered):
        raise InvalidInput.one("transaction", "txid", f"{txid!r} is not 64 hex characters")
    return lowered
