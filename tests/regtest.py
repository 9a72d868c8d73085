"""A real regtest node for tests: ``litecoind -regtest`` in a throw-away data directory.

Why Litecoin: Debian packages ``litecoind`` (Bitcoin Core does not ship in Debian), and Litecoin
Core 0.21 speaks Bitcoin Core 0.21's RPC with the same scripts, segwit v0 sighashes and
transaction format. Only the address spelling differs (``rltc1...`` instead of ``bcrt1...``),
which is why the chain adapters work in scripts and this module re-encodes addresses.

Two flags matter beyond the obvious ones:

* ``-vbparams=mweb:-2:0:0:0`` keeps MWEB (Litecoin's extension blocks) from ever activating.
  On regtest it activates at height 432, and from then on ``generatetoaddress`` fails with
  ``bad-txns-vin-empty`` (the first HogEx transaction needs a peg-in). All five fields are
  given because the two height fields are left uninitialised when omitted.
* ``-acceptnonstdtxn=0`` makes regtest apply mainnet's relay policy, so ``testmempoolaccept``
  answers here as it would on a production node.

The session fixture ``litecoind`` skips without the binary and fails under ``CI=true``. Make it
visible with ``from regtest import litecoind  # noqa: F401`` in tests/conftest.py; in a test
module write ``litecoind = regtest.litecoind`` instead (an imported name that test functions
take as a parameter is ruff's F811). However many places expose it, a session runs one node.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

import pytest
from embit import bech32

from reserve.adapters.chain import sats_to_coins
from reserve.adapters.chain_rpc import CoreRpc, RpcError
from reserve.core.errors import ChainUnavailable

BINARY: Final = "litecoind"
HRP: Final = "rltc"
WALLET: Final = "miner"
#: 110 blocks leave ten mature coinbases (500 LTC) to fund tests with
INITIAL_BLOCKS: Final = 110
START_TIMEOUT: Final = 60.0
STOP_TIMEOUT: Final = 30.0
IN_CI: Final = os.environ.get("CI", "").lower() == "true"
#: the opcode that starts a witness program (OP_0, OP_1 .. OP_16) -> witness version
_VERSION_OPS: Final = {0x00: 0, **{0x50 + n: n for n in range(1, 17)}}


def require_litecoind() -> None:
    """Skip with a one-line reason when ``litecoind`` is missing; under ``CI=true``, fail."""
    if shutil.which(BINARY) is not None:
        return
    reason = f"{BINARY} not on PATH (Debian: apt-get install litecoind)"
    if IN_CI:
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


def reencode(address: str, hrp: str) -> str:
    """The same witness program under another prefix: ``bcrt1q...`` -> ``rltc1q...``."""
    _, old_hrp, _ = bech32.bech32_decode(address)
    if old_hrp is None:
        raise ValueError(f"not a bech32 address: {address!r}")
    version, program = bech32.decode(old_hrp, address)
    if version is None:
        raise ValueError(f"not a segwit address: {address!r}")
    return _encode(hrp, version, bytes(program))


def address_for_script(script: bytes, hrp: str = HRP) -> str:
    """The bech32 address that pays ``script``, which must be a witness program
    (``OP_n <2..40 bytes>``); any other script has no bech32 spelling."""
    if len(script) < 4 or script[1] != len(script) - 2 or script[0] not in _VERSION_OPS:
        raise ValueError(f"not a witness program: {script.hex()}")
    return _encode(hrp, _VERSION_OPS[script[0]], script[2:])


def _encode(hrp: str, version: int, program: bytes) -> str:
    address = bech32.encode(hrp, version, program)
    if address is None:
        raise ValueError(f"cannot encode witness v{version} program {program.hex()}")
    return str(address)


def free_port() -> int:
    """A TCP port nobody listens on right now (the node binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LitecoinRegtest:
    """One ``litecoind -regtest`` process with a funded miner wallet."""

    def __init__(self, datadir: Path | None = None) -> None:
        self._owns_datadir = datadir is None
        self.datadir = datadir or Path(tempfile.mkdtemp(prefix="ltc-regtest-"))
        self.rpc_port = free_port()
        self.p2p_port = free_port()
        self.rpc_user = "reserve-test"
        self.rpc_password = secrets.token_hex(16)
        self._process: subprocess.Popen[bytes] | None = None
        self._wallet = CoreRpc(f"{self.url}/wallet/{WALLET}", self.rpc_user, self.rpc_password)
        self.miner_address = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.rpc_port}"

    def start(self) -> LitecoinRegtest:
        """Launch the node, wait for its RPC, create the miner wallet and mine mature coins."""
        self.datadir.mkdir(parents=True, exist_ok=True)
        with (self.datadir / "stderr.log").open("wb") as stderr:
            self._process = subprocess.Popen(
                [BINARY, *self._arguments()], stdout=subprocess.DEVNULL, stderr=stderr
            )
        try:
            self._wait_for_rpc()
            self._open_wallet()
            self.miner_address = str(self.rpc("getnewaddress", "mining", "bech32"))
            self.mine(INITIAL_BLOCKS)
        except BaseException:
            self.stop()
            raise
        return self

    def _arguments(self) -> list[str]:
        return [
            "-regtest",
            f"-datadir={self.datadir}",
            "-server",
            "-txindex",
            "-listen=0",
            f"-port={self.p2p_port}",
            f"-rpcport={self.rpc_port}",
            "-rpcbind=127.0.0.1",
            "-rpcallowip=127.0.0.1",
            f"-rpcuser={self.rpc_user}",
            f"-rpcpassword={self.rpc_password}",
            "-fallbackfee=0.0001",
            "-acceptnonstdtxn=0",
            "-vbparams=mweb:-2:0:0:0",
            "-dnsseed=0",
            "-discover=0",
            "-upnp=0",
            "-printtoconsole=0",
        ]

    def _wait_for_rpc(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        node = self.core_rpc()
        while True:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(
                    f"litecoind exited with {self._process.returncode}:\n{self.log_tail()}"
                )
            try:
                node.call("getblockcount")
                return
            except ChainUnavailable as error:  # not listening yet, or -28 "Loading ..."
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"litecoind RPC not up after {START_TIMEOUT}s: {error}"
                    ) from error
            time.sleep(0.05)

    def _open_wallet(self) -> None:
        # Litecoin Core 0.21 creates no default wallet
        node = self.core_rpc()
        try:
            node.call("createwallet", WALLET)
        except RpcError as error:
            if "already exists" not in error.rpc_message:
                raise
            node.call("loadwallet", WALLET)

    def log_tail(self, lines: int = 20) -> str:
        """The end of the node's debug.log, for error messages."""
        log = self.datadir / "regtest" / "debug.log"
        if not log.exists():
            return "(no debug.log)"
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])

    def rpc(self, method: str, *params: Any) -> Any:
        """Any RPC call, wallet calls included (they go to the miner wallet)."""
        return self._wallet.call(method, *params)

    def core_rpc(self) -> CoreRpc:
        """The adapter under test, pointed at this node (no wallet in its URL)."""
        return CoreRpc(self.url, self.rpc_user, self.rpc_password, timeout=30.0)

    def mine(self, n: int) -> list[str]:
        """Mine ``n`` blocks to the miner wallet; returns their hashes."""
        return list(self.rpc("generatetoaddress", n, self.miner_address))

    def fund_script(self, script_pubkey: bytes, amount_sats: int) -> tuple[str, int]:
        """Pay ``amount_sats`` from the miner wallet to ``script_pubkey``; returns the txid and
        output index. Nothing is mined: the payment waits in the mempool."""
        address = address_for_script(script_pubkey)
        txid = str(self.rpc("sendtoaddress", address, sats_to_coins(amount_sats)))
        tx = self.rpc("getrawtransaction", txid, True)
        for out in tx["vout"]:
            if out["scriptPubKey"]["hex"] == script_pubkey.hex():
                return txid, int(out["n"])
        raise AssertionError(f"{txid} has no output paying {script_pubkey.hex()}")

    def address_for_script(self, script: bytes) -> str:
        return address_for_script(script, HRP)

    def stop(self) -> None:
        """Ask the node to stop, wait for it, kill it if it hangs; remove its data directory."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            try:
                self.core_rpc().call("stop")
            except ChainUnavailable:
                process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._owns_datadir:
            shutil.rmtree(self.datadir, ignore_errors=True)


class _SharedNode:
    """One node per test session, however many modules import the fixture: pytest keeps a
    separate session cache for each place a fixture is defined or imported, so the node's
    users are counted here and it stops when the last one is done."""

    node: LitecoinRegtest | None = None
    users = 0

    @classmethod
    @contextmanager
    def borrow(cls) -> Iterator[LitecoinRegtest]:
        node = cls.node or LitecoinRegtest().start()
        cls.node = node
        cls.users += 1
        try:
            yield node
        finally:
            cls.users -= 1
            if cls.users == 0:
                cls.node = None
                node.stop()


@pytest.fixture(scope="session")
def litecoind() -> Iterator[LitecoinRegtest]:
    """A started regtest node with a funded miner wallet, stopped at the end of the session."""
    require_litecoind()
    with _SharedNode.borrow() as node:
        yield node
