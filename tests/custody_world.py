"""A reserve with a custody desk: users, key holders in five cities, keys, a policy in force.

Shared by the custody integration and end-to-end tests; the keys come from ``custody_keys`` (fixed
seeds), so every run derives the same vaults and addresses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from reserve.bootstrap import Reserve
from reserve.custody.keys import VaultKey
from reserve.custody.vaults import Recovery, Tier, VaultSpec
from reserve.governance.people import OrgUnit, Role, User
from reserve.ledger.accounts import Account
from reserve.ledger.model import EntryDraft, LotOpening, PostingDraft
from reserve.services import custody_policy, custody_vaults
from reserve.services.governance import add_unit, add_user
from reserve.services.ledger import open_accounts, post_entries

from custody_keys import ACCOUNT_PATH, HolderKeys, make_holder

CITIES = ("Astana", "Almaty", "Shymkent", "Aktobe", "Karaganda")
UNITS = ("CUSTODY", "TREASURY")
START = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
HOLDERS = tuple(f"kh{n}" for n in range(1, 6))


@dataclass
class MovingClock:
    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class CustodyWorld:
    reserve: Reserve
    clock: MovingClock
    keys: dict[str, HolderKeys] = field(default_factory=dict)  # holder -> keys

    def policy(self, rules: str, whitelist: str) -> None:
        """Propose and approve (by two others) the rules and the whitelist."""
        for kind, text in (("rules", rules), ("whitelist", whitelist)):
            version = custody_policy.propose_policy(
                self.reserve, kind, text, where=kind, actor="risk1"
            )
            for approver in ("admin", "risk2"):
                custody_policy.approve_policy(self.reserve, kind, version.sha256, actor=approver)

    def vault(
        self,
        name: str,
        holders: tuple[str, ...],
        threshold: int,
        *,
        recovery: tuple[str, int] | None = None,
        tier: Tier = Tier.COLD,
    ) -> VaultSpec:
        with self.reserve.reading() as uow:
            known = uow.custody.keys()
        rescue = None
        if recovery is not None:
            rescue = Recovery(known[f"{recovery[0]}-key"], recovery[1])
        spec = VaultSpec(
            name,
            "SFDA",
            "BTC",
            tier,
            "regtest",
            threshold,
            tuple(known[f"{h}-key"] for h in holders),
            rescue,
        )
        custody_vaults.create_vault(self.reserve, spec, actor="admin")
        return spec

    def book_into(self, account: str, units: int, ref: str) -> None:
        """Units arrive in the vault's ledger account (what intake would have booked)."""
        draft = EntryDraft(
            f"test:{ref}",
            self.clock.now.date(),
            "intake",
            f"test coins {ref}",
            (
                PostingDraft(
                    account,
                    "BTC",
                    units,
                    LotOpening(
                        "purchase",
                        ref,
                        Decimal(units) / 10**8 * 60000,
                        Decimal(units) / 10**8 * 60000 * 500,
                    ),
                ),
                PostingDraft("Equity:Conversion:FX:SFDA", "BTC", -units),
            ),
        )
        post_entries(self.reserve, [draft], actor="admin")


def build_world(reserve: Reserve, *, extra_holders: int = 1) -> CustodyWorld:
    clock = MovingClock()
    reserve.clock = clock
    world = CustodyWorld(reserve, clock)
    for code in UNITS:
        add_unit(reserve, OrgUnit(code, f"{code.title()} department"), actor="admin")
    add_user(
        reserve,
        User("admin", "Administrator", "CUSTODY", frozenset({Role.ADMINISTRATOR})),
        actor="admin",
    )
    for handle in ("risk1", "risk2"):
        add_user(
            reserve,
            User(handle, f"Risk officer {handle}", "TREASURY", frozenset({Role.RISK_OFFICER})),
            actor="admin",
        )
    add_user(
        reserve, User("auditor1", "Auditor", "TREASURY", frozenset({Role.AUDITOR})), actor="admin"
    )
    names = [*HOLDERS, *(f"kx{n}" for n in range(1, extra_holders + 1))]
    for n, handle in enumerate(names):
        add_user(
            reserve,
            User(handle, f"Key holder {handle}", UNITS[n % 2], frozenset({Role.CUSTODIAN})),
            actor="admin",
        )
        custody_vaults.add_key_holder(reserve, handle, CITIES[n % len(CITIES)], actor="admin")
        keys = make_holder(n, name=handle)
        world.keys[handle] = keys
        custody_vaults.add_key(
            reserve,
            VaultKey(f"{handle}-key", handle, keys.fingerprint, ACCOUNT_PATH, keys.account_xpub),
            network="regtest",
            actor="admin",
        )
    open_accounts(
        reserve, [Account("Equity:Conversion:FX:SFDA", "SFDA", date(2025, 1, 1))], actor="admin"
    )
    return world


RULES = """
version = "test-1"
[settings]
cold_timelock_hours = 24
sanctions_max_age_days = 400

[[rules]]
name = "cold-to-whitelist"
action = "approve"
when = { source_tiers = ["cold"], destinations = ["whitelisted"] }
approvals = { count = 2, roles = ["risk-officer", "administrator"] }

[[rules]]
name = "court-recipients"
action = "approve"
when = { destinations = ["court"] }
approvals = { count = 2, roles = ["risk-officer", "administrator"] }

[[rules]]
name = "everything-else"
action = "block"
when = {}
"""


def whitelist(*addresses: str) -> str:
    entries = "\n".join(
        f'[[entries]]\naddress = "{a}"\nasset = "BTC"\nlabel = "test destination {n}"\n'
        for n, a in enumerate(addresses)
    )
    return f'version = "test-1"\n{entries}'
