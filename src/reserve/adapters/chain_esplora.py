"""An Esplora REST server (Blockstream's electrs, mempool.space) as a ``ChainSource``.

Esplora indexes every script, so a watch-only deployment can follow vault scripts without
running a node of its own. It quotes amounts in satoshis already, and addresses outputs by
"scripthash": the sha256 of the output script, byte-reversed, as Electrum does. What it cannot
do is check a transaction without broadcasting it; ``test_accept`` says so instead of guessing.
Only the standard library is used, for the same reason as in ``chain_rpc``.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any

from reserve.adapters.chain import (
    AcceptResult,
    ChainSource,
    ChainUtxo,
    TxStatus,
    check_txid,
)
from reserve.core.errors import ChainUnavailable, NotFound


class _HttpStatus(ChainUnavailable):
    """Esplora answered with an HTTP error; its body is the server's explanation."""

    def __init__(self, url: str, code: int, body: str) -> None:
        super().__init__(f"{url}: HTTP {code}: {body}")
        self.code = code
        self.body = body


def scripthash(script: bytes) -> str:
    """Esplora's (and Electrum's) key for an output script: sha256, byte-reversed, as hex."""
    return hashlib.sha256(script).digest()[::-1].hex()


class Esplora(ChainSource):
    """An Esplora server reached at ``base_url`` (e.g. ``https://blockstream.info/api``)."""

    def __init__(self, base_url: str, timeout: float = 30.0) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"Esplora url must be http(s): {base_url!r}")
        self._base = base_url.rstrip("/")
        self._timeout = timeout

    def tip_height(self) -> int:
        text = self._text("GET", "/blocks/tip/height")
        if not text.strip().isdigit():
            raise ChainUnavailable(f"{self._base}: tip height is {text!r:.100}")
        return int(text)

    def utxos(self, scripts: Sequence[bytes]) -> list[ChainUtxo]:
        found: list[ChainUtxo] = []
        for script in sorted({bytes(s) for s in scripts}):
            answer = self._json(f"/scripthash/{scripthash(script)}/utxo")
            if not isinstance(answer, list):
                raise ChainUnavailable(f"{self._base}: utxo list is {answer!r:.200}")
            found.extend(_utxo(entry, script) for entry in answer)
        return sorted(found, key=lambda u: (u.height is None, u.height or 0, u.txid, u.vout))

    def transaction(self, txid: str) -> bytes:
        txid = check_txid(txid)
        try:
            text = self._text("GET", f"/tx/{txid}/hex")
        except _HttpStatus as error:
            if error.code == 404:
                raise NotFound.one("chain", "txid", f"{txid}: {error.body}") from error
            raise
        try:
            return bytes.fromhex(text.strip())
        except ValueError as error:
            raise ChainUnavailable(f"{self._base}: transaction hex is {text!r:.100}") from error

    def broadcast(self, raw: bytes) -> str:
        try:
            txid = self._text("POST", "/tx", body=raw.hex().encode("ascii")).strip()
        except _HttpStatus as error:
            if error.code == 400:  # Esplora passes the node's rejection through as the body
                raise ChainUnavailable(f"node refused transaction: {error.body}") from error
            raise
        if len(txid) != 64:
            raise ChainUnavailable(f"{self._base}: broadcast answered {txid!r:.100}")
        return txid

    def test_accept(self, raw: bytes) -> AcceptResult:
        raise ChainUnavailable("Esplora cannot test a transaction without broadcasting it")

    def status(self, txid: str) -> TxStatus:
        txid = check_txid(txid)
        try:
            answer = self._json(f"/tx/{txid}/status")
        except _HttpStatus as error:
            if error.code == 404:  # never seen, dropped or replaced
                return TxStatus(txid, 0, None, in_mempool=False)
            raise
        if not isinstance(answer, dict) or not isinstance(answer.get("confirmed"), bool):
            raise ChainUnavailable(f"{self._base}: status is {answer!r:.200}")
        if not answer["confirmed"]:
            return TxStatus(txid, 0, None, in_mempool=True)
        height = answer.get("block_height")
        if isinstance(height, bool) or not isinstance(height, int):
            raise ChainUnavailable(f"{self._base}: confirmed without a height: {answer!r:.200}")
        # one more request: a tip read before the status could be older than the block
        return TxStatus(txid, self.tip_height() - height + 1, height, in_mempool=False)

    def _json(self, path: str) -> Any:
        text = self._text("GET", path)
        try:
            return json.loads(text)
        except ValueError as error:
            raise ChainUnavailable(f"{self._base}{path}: not JSON: {text!r:.200}") from error

    def _text(self, method: str, path: str, body: bytes | None = None) -> str:
        url = self._base + path
        request = urllib.request.Request(url, data=body, method=method)  # noqa: S310 - checked
        if body is not None:
            request.add_header("Content-Type", "text/plain")
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:  # noqa: S310
                data: bytes = response.read()
        except urllib.error.HTTPError as error:
            text = error.read().decode("utf-8", "replace").strip()
            raise _HttpStatus(url, error.code, text or str(error.reason)) from error
        except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
            raise ChainUnavailable(f"Esplora at {url} not reachable: {error}") from error
        return data.decode("utf-8", "replace")


def _utxo(entry: Any, script: bytes) -> ChainUtxo:
    """One entry of ``/scripthash/:hash/utxo``; the script is the one asked about."""
    try:
        status = entry["status"]
        confirmed = status["confirmed"]
        height = status["block_height"] if confirmed else None
        values = (entry["txid"], entry["vout"], entry["value"], height)
    except (KeyError, TypeError) as error:
        raise ChainUnavailable(f"Esplora utxo entry is {entry!r:.200}") from error
    txid, vout, value, height = values
    numbers = [vout, value] + ([height] if confirmed else [])
    if not isinstance(txid, str) or any(
        isinstance(n, bool) or not isinstance(n, int) or n < 0 for n in numbers
    ):
        raise ChainUnavailable(f"Esplora utxo entry is {entry!r:.200}")
    return ChainUtxo(txid=txid, vout=vout, amount=value, script_pubkey=script, height=height)
