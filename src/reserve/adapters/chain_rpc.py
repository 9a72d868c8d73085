"""A full node's JSON-RPC (Bitcoin Core, or Litecoin Core on regtest) as a ``ChainSource``.

Only the standard library: the reserve's own node sits next to it, and every dependency in the
path that moves reserve coins is one more thing to audit. Amounts arrive as JSON numbers in
whole coins; they are parsed as ``Decimal`` (never ``float``) and converted to exact satoshis.

The node needs no wallet: ``scantxoutset`` finds confirmed outputs by raw script and the
mempool is read transaction by transaction. ``status`` of a confirmed transaction needs
``-txindex``; without it only mempool transactions can be told apart from unknown ones.
"""

from __future__ import annotations

import base64
import http.client
import json
import urllib.error
import urllib.request
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, Final

from reserve.adapters.chain import (
    AcceptResult,
    ChainSource,
    ChainUtxo,
    TxStatus,
    check_txid,
    coins_to_sats,
)
from reserve.core.errors import ChainUnavailable, NotFound

#: Bitcoin Core's RPC error codes the adapter tells apart (src/rpc/protocol.h)
RPC_INVALID_ADDRESS_OR_KEY: Final = -5  # "no such transaction"
RPC_DESERIALIZATION_ERROR: Final = -22  # "TX decode failed"
_BATCH: Final = 500
_SCAN_ATTEMPTS: Final = 3


class RpcError(ChainUnavailable):
    """The node answered a call with a JSON-RPC error (code and message as the node wrote them)."""

    def __init__(self, method: str, code: int, message: str) -> None:
        super().__init__(f"{method}: node error {code}: {message}")
        self.code = code
        self.rpc_message = message


class CoreRpc(ChainSource):
    """A node reached over HTTP JSON-RPC with a user name and password."""

    def __init__(self, url: str, user: str, password: str, timeout: float = 30.0) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"node RPC url must be http(s): {url!r}")
        self._url = url
        self._auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        self._timeout = timeout

    def call(self, method: str, *params: Any) -> Any:
        """One JSON-RPC call; its ``result``, or ``RpcError`` carrying the node's error."""
        reply = self._exchange({"jsonrpc": "1.0", "id": 0, "method": method, "params": params})
        return _result(method, reply)

    def tip_height(self) -> int:
        return _integer(self.call("getblockcount"), what="getblockcount")

    def utxos(self, scripts: Sequence[bytes]) -> list[ChainUtxo]:
        wanted = sorted({bytes(s).hex() for s in scripts})
        if not wanted:
            return []
        for _ in range(_SCAN_ATTEMPTS):
            scan = self.call("scantxoutset", "start", [{"desc": f"raw({h})"} for h in wanted])
            if not isinstance(scan, dict) or scan.get("success") is not True:
                raise ChainUnavailable(f"scantxoutset did not complete: {scan!r}")
            pending, spent = self._mempool_view(set(wanted))
            # a block found between the scan and the mempool read would hide its transactions
            # from both, so the snapshot only counts if the tip did not move meanwhile
            if self.call("getbestblockhash") == scan.get("bestblock"):
                confirmed = [_scanned(u) for u in scan.get("unspents", [])]
                found = [u for u in confirmed + pending if (u.txid, u.vout) not in spent]
                return sorted(
                    found, key=lambda u: (u.height is None, u.height or 0, u.txid, u.vout)
                )
        raise ChainUnavailable("the chain tip kept moving while scanning for unspent outputs")

    def transaction(self, txid: str) -> bytes:
        txid = check_txid(txid)
        try:
            raw = self.call("getrawtransaction", txid, False)
        except RpcError as error:
            if error.code == RPC_INVALID_ADDRESS_OR_KEY:
                raise NotFound.one("chain", "txid", f"{txid}: {error.rpc_message}") from error
            raise
        return _hex_bytes(raw, what="getrawtransaction")

    def broadcast(self, raw: bytes) -> str:
        try:
            txid = self.call("sendrawtransaction", raw.hex())
        except RpcError as error:
            raise ChainUnavailable(f"node refused transaction: {error.rpc_message}") from error
        return _txid(txid, what="sendrawtransaction")

    def test_accept(self, raw: bytes) -> AcceptResult:
        try:
            answer = self.call("testmempoolaccept", [raw.hex()])
        except RpcError as error:
            if error.code == RPC_DESERIALIZATION_ERROR:  # not even a transaction
                return AcceptResult(allowed=False, reason=error.rpc_message)
            raise
        if not isinstance(answer, list) or len(answer) != 1 or not isinstance(answer[0], dict):
            raise ChainUnavailable(f"testmempoolaccept answered {answer!r}")
        verdict = answer[0]
        if verdict.get("allowed") is True:
            return AcceptResult(allowed=True, reason=None)
        return AcceptResult(allowed=False, reason=str(verdict.get("reject-reason", "rejected")))

    def status(self, txid: str) -> TxStatus:
        txid = check_txid(txid)
        try:
            tx = self.call("getrawtransaction", txid, True)
        except RpcError as error:
            if error.code != RPC_INVALID_ADDRESS_OR_KEY:
                raise
            return self._unfound(txid, error.rpc_message)
        if not isinstance(tx, dict):
            raise ChainUnavailable(f"getrawtransaction answered {tx!r}")
        if tx.get("blockhash") is None:  # the node looks in its mempool first
            return TxStatus(txid, 0, None, in_mempool=True)
        header = self.call("getblockheader", tx["blockhash"])
        if not isinstance(header, dict):
            raise ChainUnavailable(f"getblockheader answered {header!r:.200}")
        confirmations = _integer(header.get("confirmations"), what="getblockheader")
        if confirmations < 1:  # the block was reorganised away
            return TxStatus(txid, 0, None, in_mempool=self._in_mempool(txid))
        height = _integer(header.get("height"), what="getblockheader")
        return TxStatus(txid, confirmations, height, in_mempool=False)

    def _unfound(self, txid: str, message: str) -> TxStatus:
        """Status of a transaction ``getrawtransaction`` did not find: unknown if the node has
        a complete transaction index; otherwise it may be confirmed and we cannot tell."""
        if "-txindex" not in message and "being indexed" not in message:
            return TxStatus(txid, 0, None, in_mempool=False)
        if self._in_mempool(txid):  # it entered the mempool a moment ago
            return TxStatus(txid, 0, None, in_mempool=True)
        raise ChainUnavailable(f"the node's transaction index cannot answer for {txid}: {message}")

    def _in_mempool(self, txid: str) -> bool:
        try:
            self.call("getmempoolentry", txid)
        except RpcError as error:
            if error.code == RPC_INVALID_ADDRESS_OR_KEY:
                return False
            raise
        return True

    def _mempool_view(self, wanted: set[str]) -> tuple[list[ChainUtxo], set[tuple[str, int]]]:
        """Outputs of mempool transactions paying ``wanted`` scripts, and every outpoint a
        mempool transaction spends. Costs one batched request per 500 mempool transactions."""
        txids = self.call("getrawmempool")
        if not isinstance(txids, list):
            raise ChainUnavailable(f"getrawmempool answered {txids!r}")
        pending: list[ChainUtxo] = []
        spent: set[tuple[str, int]] = set()
        for start in range(0, len(txids), _BATCH):
            for tx in self._batch(
                "getrawtransaction", [[t, True] for t in txids[start : start + _BATCH]]
            ):
                if tx is None:  # left the mempool since it was listed
                    continue
                try:
                    spent.update((i["txid"], int(i["vout"])) for i in tx["vin"] if "txid" in i)
                    pending.extend(_paying(tx, wanted))
                except (KeyError, TypeError, ValueError) as error:
                    raise ChainUnavailable(f"getrawtransaction answered {tx!r:.200}") from error
        return pending, spent

    def _batch(self, method: str, calls: list[list[Any]]) -> list[Any]:
        """Many calls of one method in one HTTP request; ``None`` where the node answered
        "no such transaction" (it left the mempool between listing and fetching)."""
        if not calls:
            return []
        request = [
            {"jsonrpc": "1.0", "id": n, "method": method, "params": p} for n, p in enumerate(calls)
        ]
        replies = self._exchange(request)
        if not isinstance(replies, list) or len(replies) != len(calls):
            raise ChainUnavailable(f"{method}: the node answered a batch with {replies!r:.200}")
        results: dict[object, Any] = {}
        for reply in replies:
            if not isinstance(reply, dict):
                raise ChainUnavailable(f"{method}: the node answered {reply!r:.200}")
            try:
                results[reply.get("id")] = _result(method, reply)
            except RpcError as error:
                if error.code != RPC_INVALID_ADDRESS_OR_KEY:
                    raise
                results[reply.get("id")] = None
        return [results.get(n) for n in range(len(calls))]

    def _exchange(self, payload: object) -> Any:
        body = json.dumps(payload, default=_json_default).encode()
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked in __init__
            self._url,
            data=body,
            headers={"Content-Type": "application/json", "Authorization": self._auth},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:  # noqa: S310
                text = response.read()
        except urllib.error.HTTPError as error:
            # the node answers a failed call with HTTP 500 and a JSON error body
            text = error.read()
            if error.code in (401, 403) or not text:
                raise ChainUnavailable(f"node at {self._url}: HTTP {error.code}") from error
        except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
            raise ChainUnavailable(f"node at {self._url} not reachable: {error}") from error
        try:
            return json.loads(text, parse_float=Decimal)
        except ValueError as error:
            raise ChainUnavailable(
                f"node at {self._url} answered non-JSON: {text!r:.200}"
            ) from error


def _result(method: str, reply: Any) -> Any:
    if not isinstance(reply, dict):
        raise ChainUnavailable(f"{method}: the node answered {reply!r:.200}")
    error = reply.get("error")
    if error is not None:
        if isinstance(error, dict):
            raise RpcError(method, int(error.get("code", 0)), str(error.get("message", "")))
        raise ChainUnavailable(f"{method}: the node answered the error {error!r:.200}")
    return reply.get("result")


def _json_default(value: object) -> str:
    # Core accepts amounts as strings, which keeps a Decimal exact on the wire
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot send {type(value).__name__} to the node")


def _scanned(unspent: Any) -> ChainUtxo:
    txid = _txid(unspent.get("txid"), what="scantxoutset")
    return ChainUtxo(
        txid=txid,
        vout=_integer(unspent.get("vout"), what="scantxoutset"),
        amount=coins_to_sats(unspent.get("amount"), what=f"scantxoutset {txid}"),
        script_pubkey=_hex_bytes(unspent.get("scriptPubKey"), what="scantxoutset"),
        height=_integer(unspent.get("height"), what="scantxoutset"),
    )


def _paying(tx: Any, wanted: set[str]) -> list[ChainUtxo]:
    """The outputs of a verbose transaction whose script is one of ``wanted`` (hex)."""
    found = []
    for out in tx["vout"]:
        script = out["scriptPubKey"]["hex"]
        if script in wanted:
            amount = coins_to_sats(out["value"], what=f"mempool transaction {tx['txid']}")
            found.append(ChainUtxo(tx["txid"], int(out["n"]), amount, bytes.fromhex(script), None))
    return found


def _integer(value: object, *, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ChainUnavailable(f"{what}: expected an integer, got {value!r:.100}")
    return value


def _hex_bytes(value: object, *, what: str) -> bytes:
    if isinstance(value, str):
        try:
            return bytes.fromhex(value)
        except ValueError:
            pass
    raise ChainUnavailable(f"{what}: expected hex, got {value!r:.100}")


def _txid(value: object, *, what: str) -> str:
    if not isinstance(value, str) or len(value) != 64:
        raise ChainUnavailable(f"{what}: expected a txid, got {value!r:.100}")
    return value
