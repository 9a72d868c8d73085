"""A test-only Esplora: the handful of REST endpoints ``chain_esplora.Esplora`` uses, answered
from a regtest node's RPC, so both adapters are held to one contract against one real chain.

Like electrs it keeps its own index of every output by scripthash (built block by block from
``getblock <hash> 2``), because a scripthash cannot be turned back into a script; spentness,
mempool spends included, comes from ``gettxout <txid> <n> true``. Error bodies and status
codes copy electrs: 404 "Transaction not found", 400 "sendrawtransaction RPC error: {...}".
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from reserve.adapters.chain import coins_to_sats
from reserve.adapters.chain_esplora import scripthash
from reserve.adapters.chain_rpc import RPC_INVALID_ADDRESS_OR_KEY, CoreRpc, RpcError
from reserve.core.errors import ChainUnavailable

from regtest import LitecoinRegtest

Output = tuple[str, int, int, int | None]  # txid, vout, value in sats, block height


class _NotFound(Exception):
    """Answer 404."""


class EsploraFacade:
    """Esplora's REST shape over a node's RPC, served on 127.0.0.1 in a background thread."""

    def __init__(self, node: CoreRpc) -> None:
        self.node = node
        self._lock = threading.Lock()
        self._block_hashes: list[str] = []
        self._outputs: dict[str, list[Output]] = {}
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.facade = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> EsploraFacade:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def get(self, path: str) -> tuple[int, str]:
        parts = path.strip("/").split("/")
        if parts == ["blocks", "tip", "height"]:
            return 200, str(self.node.call("getblockcount"))
        if len(parts) == 3 and parts[0] == "scripthash" and parts[2] == "utxo":
            return 200, json.dumps(self.utxos(parts[1]))
        if len(parts) == 3 and parts[0] == "tx" and parts[2] == "hex":
            return 200, str(self._tx(parts[1], verbose=False))
        if len(parts) == 3 and parts[0] == "tx" and parts[2] == "status":
            return 200, json.dumps(self.status(parts[1]))
        raise _NotFound

    def post_tx(self, hex_body: str) -> tuple[int, str]:
        try:
            return 200, str(self.node.call("sendrawtransaction", hex_body.strip()))
        except RpcError as error:
            detail = json.dumps({"code": error.code, "message": error.rpc_message})
            return 400, f"sendrawtransaction RPC error: {detail}"

    def utxos(self, wanted: str) -> list[dict[str, Any]]:
        with self._lock:
            self._index_new_blocks()
            candidates = list(self._outputs.get(wanted, []))
        candidates += self._mempool_outputs(wanted)
        found = []
        for txid, vout, value, height in candidates:
            if self.node.call("gettxout", txid, vout, True) is None:  # spent, maybe in mempool
                continue
            status: dict[str, Any] = {"confirmed": height is not None}
            if height is not None:
                status |= {"block_height": height, "block_hash": self._block_hashes[height]}
            found.append({"txid": txid, "vout": vout, "status": status, "value": value})
        return found

    def status(self, txid: str) -> dict[str, Any]:
        tx = self._tx(txid, verbose=True)
        if tx.get("blockhash") is None:
            return {"confirmed": False}
        header = self.node.call("getblockheader", tx["blockhash"])
        return {
            "confirmed": True,
            "block_height": header["height"],
            "block_hash": header["hash"],
            "block_time": header["time"],
        }

    def _tx(self, txid: str, *, verbose: bool) -> Any:
        try:
            return self.node.call("getrawtransaction", txid, verbose)
        except RpcError as error:
            if error.code == RPC_INVALID_ADDRESS_OR_KEY:
                raise _NotFound("Transaction not found") from error
            raise

    def _index_new_blocks(self) -> None:
        tip = int(self.node.call("getblockcount"))
        known = len(self._block_hashes)
        if known and self.node.call("getblockhash", known - 1) != self._block_hashes[-1]:
            self._block_hashes, self._outputs, known = [], {}, 0  # reorg: start over
        for height in range(known, tip + 1):
            block = self.node.call("getblock", self.node.call("getblockhash", height), 2)
            for tx in block["tx"]:
                for output in _outputs(tx, height):
                    self._outputs.setdefault(output[0], []).append(output[1])
            self._block_hashes.append(block["hash"])

    def _mempool_outputs(self, wanted: str) -> list[Output]:
        found = []
        for txid in self.node.call("getrawmempool"):
            try:
                tx = self._tx(txid, verbose=True)
            except _NotFound:
                continue
            found += [out for key, out in _outputs(tx, None) if key == wanted]
        return found


def _outputs(tx: Any, height: int | None) -> Iterator[tuple[str, Output]]:
    for out in tx["vout"]:
        key = scripthash(bytes.fromhex(out["scriptPubKey"]["hex"]))
        value = coins_to_sats(out["value"], what=tx["txid"])
        yield key, (tx["txid"], int(out["n"]), value, height)


class _Handler(BaseHTTPRequestHandler):
    server: ThreadingHTTPServer

    def do_GET(self) -> None:
        facade: EsploraFacade = self.server.facade  # type: ignore[attr-defined]
        try:
            self._answer(*facade.get(self.path))
        except _NotFound as missing:
            self._answer(404, str(missing) or "Not Found")
        except ChainUnavailable as error:  # the node behind the facade failed
            self._answer(502, str(error))

    def do_POST(self) -> None:
        facade: EsploraFacade = self.server.facade  # type: ignore[attr-defined]
        if self.path.rstrip("/") != "/tx":
            self._answer(404, "Not Found")
            return
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self._answer(*facade.post_tx(body.decode("ascii", "replace")))

    def _answer(self, code: int, text: str) -> None:
        data = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: pytest would show every request on a failure."""


@pytest.fixture(scope="session")
def esplora_url(litecoind: LitecoinRegtest) -> Iterator[str]:
    """Base URL of an Esplora facade over the session's regtest node."""
    facade = EsploraFacade(litecoind.core_rpc()).start()
    yield facade.url
    facade.stop()
