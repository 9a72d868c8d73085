"""`reserve custody ...` end to end: key holders, keys, vaults and their backups, and the
refusals (exit 2, one line naming the problem, nothing written) of keys and vaults.

Every command runs through ``reserve.cli.app.run`` on SQLite. The clock is pinned to the last
day of the bundled BTC/USD closes (2025-02-20), so a transfer has a USD value, as the transfer
tests in ``test_custody_transfer_cli`` need; the watch-only wallets go to a temporary folder.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import pytest
from embit.script import Script
from embit.transaction import Transaction, TransactionInput, TransactionOutput

from reserve.bootstrap import Reserve, bootstrap
from reserve.cli.app import run
from reserve.config import Settings
from reserve.custody.descriptors import embit_network

from cli_session import CliSession
from custody_keys import ACCOUNT_PATH, DESTINATION, HolderKeys, make_holder
from custody_world import CITIES, RULES, MovingClock

NOW: Final = datetime(2025, 2, 20, 12, 0, tzinfo=UTC)  # the last close in data/prices/btc_usd.csv
HANDLES: Final = ("kh1", "kh2", "kh3", "kh4", "kh5", "kx1")
KEYS: Final = {handle: make_holder(n, name=handle) for n, handle in enumerate(HANDLES)}
UNITS: Final = ("CUSTODY", "TREASURY")
#: the test rules with no cold time lock, so a transfer is built right after its approvals
RULES_NOW: Final = RULES.replace("cold_timelock_hours = 24", "cold_timelock_hours = 0")
CUSTODY: Final = "custody"


class Cli(CliSession):
    reader = "admin"
    watched = (
        (CUSTODY, "transfer", "list"),
        (CUSTODY, "vault", "list"),
        (CUSTODY, "key", "list"),
        (CUSTODY, "keyholder", "list"),
        (CUSTODY, "policy", "list"),
    )

    def __init__(self, db: str, capsys: pytest.CaptureFixture[str], folder: Path,
                 clock: MovingClock) -> None:  # fmt: skip
        super().__init__(db, capsys)
        self.folder, self.clock = folder, clock

    def policy(self, rules: str, allowed: str) -> None:
        """risk1 proposes the rules and the whitelist; admin and risk2 put them in force."""
        for kind, text in (("rules", rules), ("whitelist", allowed)):
            sha = hashlib.sha256(text.encode()).hexdigest()
            path = self.folder / f"{kind}-{sha[:12]}.toml"
            path.write_text(text, encoding="utf-8")
            self.ok("risk1", CUSTODY, "policy", "propose", str(path), "--kind", kind)
            for approver in ("admin", "risk2"):
                self.ok(approver, CUSTODY, "policy", "approve", kind, sha)

    def vault_args(self, name: str, holders: tuple[str, ...], threshold: int) -> list[str]:
        keys = [arg for h in holders for arg in ("--key", f"{h}-key")]
        return [CUSTODY, "vault", "create", name, "--fund", "SFDA", "--threshold",
                str(threshold), *keys, "--network", "regtest"]  # fmt: skip

    def vault(self, name: str, holders: tuple[str, ...] = HANDLES[:5], threshold: int = 3) -> str:
        return self.ok("admin", *self.vault_args(name, holders, threshold))

    def fund(self, vault: str, sats: int, tag: str) -> str:
        """A made-up transaction paying ``sats`` to a fresh address of the vault, recorded."""
        issued = self.json(CUSTODY, "vault", "address", vault, "--purpose", f"test {tag}",
                           actor="kh1")  # fmt: skip
        tx = Transaction(
            vin=[TransactionInput(hashlib.sha256(tag.encode()).digest(), 0)],
            vout=[TransactionOutput(sats, Script(bytes.fromhex(issued["script"])))],
        )
        self.ok("kh1", CUSTODY, "vault", "deposit", vault, "--tx", tx.serialize().hex())
        return str(tx.txid().hex())

    def request(self, transfer_id: str, amount: str, *, vault: str = "cold-1",
                to: str = DESTINATION, actor: str = "kh1") -> Any:  # fmt: skip
        return self.json(CUSTODY, "transfer", "request", transfer_id, "--vault", vault, "--to", to,
                         "--amount", amount, "--fee", "2000", "--memo", "to the treasury",
                         actor=actor)  # fmt: skip

    def backup(self, vault: str) -> Path:
        path = self.folder / f"{vault}.backup.json"
        self.ok("kh1", CUSTODY, "vault", "backup", vault, "--out", str(path))
        return path

    def key_file(self, holder: HolderKeys) -> Path:
        path = self.folder / f"{holder.name}.key.json"
        path.write_text(holder.key_file(), encoding="utf-8")
        return path


def pin_clock(monkeypatch: pytest.MonkeyPatch, now: datetime) -> MovingClock:
    """Every ``reserve`` run reads this clock: the CLI's bootstrap otherwise uses the real one."""
    clock = MovingClock(now)

    def pinned(settings: Settings) -> Reserve:
        return bootstrap(settings, clock=clock)

    monkeypatch.setattr("reserve.cli.context.bootstrap", pinned)
    return clock


def setup_commands() -> Iterator[tuple[str, ...]]:
    """Units CUSTODY and TREASURY; admin, risk1, risk2, auditor1; custodians kh1..kh5 and kx1
    (alternating units) in the five cities (kx1 in Astana with kh1), each with a regtest key."""
    yield "setup", "users", "units", "add", UNITS[0], "--name", "Custody department"
    yield ("setup", "users", "add", "admin", "--name", "Administrator", "--unit", UNITS[0],
           "--role", "administrator")  # fmt: skip
    yield "admin", "users", "units", "add", UNITS[1], "--name", "Treasury department"
    for handle, role in (("risk1", "risk-officer"), ("risk2", "risk-officer"),
                         ("auditor1", "auditor")):  # fmt: skip
        yield "admin", "users", "add", handle, "--name", handle, "--unit", UNITS[1], "--role", role
    for n, handle in enumerate(HANDLES):
        yield ("admin", "users", "add", handle, "--name", f"Key holder {handle}", "--unit",
               UNITS[n % 2], "--role", "custodian")  # fmt: skip
        yield "admin", CUSTODY, "keyholder", "add", handle, "--site", CITIES[n % len(CITIES)]
        keys = KEYS[handle]
        yield ("admin", CUSTODY, "key", "add", f"{handle}-key", "--holder", handle, "--xpub",
               keys.account_xpub, "--fingerprint", keys.fingerprint, "--path", ACCOUNT_PATH,
               "--network", "regtest")  # fmt: skip


def template_db(factory: pytest.TempPathFactory) -> Path:
    """The people and keys, set up once through the CLI; each test starts from a copy."""
    db = factory.mktemp("custody-template") / "reserve.db"
    with pytest.MonkeyPatch.context() as patch:
        pin_clock(patch, NOW)
        for actor, *args in setup_commands():
            assert run(["--db", f"sqlite:///{db}", "--as", actor, *args]) == 0, args
    return db


def make_cli(template: Path, db: str, capsys: pytest.CaptureFixture[str],
             monkeypatch: pytest.MonkeyPatch, folder: Path) -> Cli:  # fmt: skip
    """A copy of the template database, the clock pinned at NOW, wallets under ``folder``."""
    target = db.removeprefix("sqlite:///")
    with closing(sqlite3.connect(template)) as source, closing(sqlite3.connect(target)) as to:
        source.backup(to)  # the backup API: safe with the WAL journal the reserve uses
    monkeypatch.setenv("RESERVE_WALLET_DIR", str(folder / "wallets"))
    return Cli(db, capsys, folder, pin_clock(monkeypatch, NOW))


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return template_db(tmp_path_factory)


@pytest.fixture
def cli(template: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Cli:  # fmt: skip
    return make_cli(template, sqlite_url, capsys, monkeypatch, tmp_path)


def mainnet_xpub(holder: HolderKeys) -> str:
    """The same seed's account key on mainnet (BIP48 coin type 0)."""
    account = holder.root.derive("m/48h/0h/0h/2h").to_public()
    return str(account.to_string(version=embit_network("bitcoin")["xpub"]))


# -- vaults ---------------------------------------------------------------------------------
def test_a_vault_whose_one_site_holds_m_keys_is_refused(cli: Cli) -> None:
    cli.refused("vault one-site: sites: Astana holds 2 keys, enough to spend alone (M=2)",
                "admin", *cli.vault_args("one-site", ("kh1", "kx1", "kh2"), 2))  # fmt: skip


def test_a_vault_that_losing_one_site_strands_is_refused(cli: Cli) -> None:
    cli.refused("vault one-fire: sites: losing Astana leaves 2 keys, fewer than M=3", "admin",
                *cli.vault_args("one-fire", ("kh1", "kx1", "kh2", "kh3"), 3))  # fmt: skip


def test_a_vault_with_keys_from_one_unit_is_refused(cli: Cli) -> None:
    cli.refused("vault one-unit: units: all keys come from CUSTODY; need two units or more",
                "admin", *cli.vault_args("one-unit", ("kh1", "kh3", "kh5"), 2))  # fmt: skip


def test_a_dispersed_vault_is_created(cli: Cli) -> None:
    printed = cli.vault("cold-1")
    assert "vault cold-1: 3-of-5 cold, account Assets:Reserve:SFDA:BTC:cold-1" in printed
    [row] = cli.json(CUSTODY, "vault", "list")
    assert (row["policy"], row["coins"], row["units"]) == ("3-of-5", 0, "0.00000000")


# -- keys -----------------------------------------------------------------------------------
def test_a_mainnet_xpub_is_refused_on_regtest(cli: Cli) -> None:
    holder = KEYS["kh1"]
    cli.refused("key kh1-main: xpub: is not an extended public key for the regtest network",
                "admin", CUSTODY, "key", "add", "kh1-main", "--holder", "kh1", "--xpub",
                mainnet_xpub(holder), "--fingerprint", holder.fingerprint, "--path",
                "m/48h/0h/0h/2h", "--network", "regtest")  # fmt: skip


def test_an_xpub_with_a_bad_checksum_is_refused(cli: Cli) -> None:
    holder = make_holder(40)
    xpub = holder.account_xpub
    broken = xpub[:-1] + ("A" if xpub[-1] != "A" else "B")
    cli.refused("key kh1-bad: xpub: bad base58 checksum or encoding (Checksum mismatch", "admin",
                CUSTODY, "key", "add", "kh1-bad", "--holder", "kh1", "--xpub", broken,
                "--fingerprint", holder.fingerprint, "--path", ACCOUNT_PATH,
                "--network", "regtest")  # fmt: skip


# -- backup and addresses -------------------------------------------------------------------
def test_the_backup_holds_descriptors_keys_with_sites_and_policy(cli: Cli) -> None:
    cli.vault("cold-1")
    printed = json.loads(cli.ok("auditor1", CUSTODY, "vault", "backup", "cold-1"))
    assert printed == json.loads(cli.backup("cold-1").read_text(encoding="utf-8"))
    assert (printed["name"], printed["network"], printed["threshold"]) == ("cold-1", "regtest", 3)
    external = printed["descriptors"]["external"]
    assert external.startswith("wsh(sortedmulti(3,")
    assert printed["descriptors"]["internal"] == external.replace("/0/*", "/1/*")
    for key in HANDLES[:5]:
        assert KEYS[key].origin_key in external
    sites = {k["key_id"]: (k["site"], k["unit"], k["fingerprint"]) for k in printed["keys"]}
    assert sites == {
        f"kh{n}-key": (CITIES[n - 1], UNITS[(n - 1) % 2], KEYS[f"kh{n}"].fingerprint)
        for n in range(1, 6)
    }
    assert printed["policy"] == {"threshold": 3, "keys": 5, "recovery": None}
    assert (printed["fund"], printed["tier"]) == ("SFDA", "cold")


def test_the_backup_names_the_recovery_key(cli: Cli) -> None:
    cli.ok("admin", *cli.vault_args("rescue-1", ("kh1", "kh2", "kh3"), 2), "--recovery-key",
           "kx1-key", "--recovery-blocks", "144")  # fmt: skip
    printed = json.loads(cli.ok("admin", CUSTODY, "vault", "backup", "rescue-1"))
    assert printed["policy"]["recovery"] == {"key_id": "kx1-key", "after_blocks": 144}
    assert "older(144)" in printed["descriptors"]["external"]
    assert [k["key_id"] for k in printed["keys"]][-1] == "kx1-key"


def test_an_address_is_never_issued_twice(cli: Cli) -> None:
    cli.vault("cold-1")
    issued = [cli.json(CUSTODY, "vault", "address", "cold-1", "--purpose", f"case {n}",
                       actor="kh2") for n in range(4)]  # fmt: skip
    assert [i["index"] for i in issued] == [0, 1, 2, 3]
    assert len({i["address"] for i in issued}) == 4
    assert all(i["address"].startswith("bcrt1q") for i in issued)
    text = cli.ok("kh3", CUSTODY, "vault", "address", "cold-1", "--purpose", "case 4")
    assert "(receive 4: case 4)" in text
    assert text.split()[0] not in {i["address"] for i in issued}
    cli.refused("vault cold-1: purpose: say what it is for", "kh1", CUSTODY, "vault", "address",
                "cold-1", "--purpose", " ")  # fmt: skip


def test_a_deposit_paying_no_issued_address_is_refused(cli: Cli) -> None:
    cli.vault("cold-1")
    txid = cli.fund("cold-1", 100_000_000, "first coin")
    [row] = cli.json(CUSTODY, "vault", "list")
    assert (row["coins"], row["units"]) == (1, "1.00000000")
    elsewhere = TransactionOutput(5_000, Script(bytes.fromhex("0014" + "11" * 20)))
    stray = Transaction(vin=[TransactionInput(bytes(32), 1)], vout=[elsewhere])
    cli.refused(f"vault cold-1: transaction: {stray.txid().hex()} pays none of the vault's "
                "addresses", "kh1", CUSTODY, "vault", "deposit", "cold-1", "--tx",
                stray.serialize().hex())  # fmt: skip
    assert txid != stray.txid().hex()
