"""Vault rules and descriptors: bdkpython and embit derive the same addresses for every shape of
vault the reserve builds, and the site and unit rules refuse what they must."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reserve.adapters.bdk_vault import VaultWallet
from reserve.custody.keys import KeyHolder, VaultKey
from reserve.custody.vaults import Recovery, Tier, VaultSpec, vault_problems

from custody_keys import ACCOUNT_PATH, make_holder

CITIES = ("Astana", "Almaty", "Shymkent", "Aktobe", "Karaganda", "Atyrau", "Oral")


def _keys(count: int, first: int = 0) -> tuple[VaultKey, ...]:
    holders = [make_holder(first + n) for n in range(count)]
    return tuple(
        VaultKey(f"k{first + n}", f"h{first + n}", h.fingerprint, ACCOUNT_PATH, h.account_xpub)
        for n, h in enumerate(holders)
    )


def _holders(sites: list[str], units: list[str], first: int = 0) -> dict[str, KeyHolder]:
    return {
        f"h{first + n}": KeyHolder(f"h{first + n}", unit, site)
        for n, (site, unit) in enumerate(zip(sites, units, strict=True))
    }


@settings(max_examples=12, deadline=None)
@given(
    n=st.integers(min_value=2, max_value=7),
    data=st.data(),
    recovery=st.booleans(),
)
def test_bdk_and_embit_derive_the_same_addresses(
    n: int, data: st.DataObject, recovery: bool
) -> None:
    m = data.draw(st.integers(min_value=1, max_value=n))
    rescue = Recovery(_keys(1, 40)[0], data.draw(st.integers(1, 0xFFFF))) if recovery else None
    spec = VaultSpec("v-test", "SFDA", "BTC", Tier.COLD, "regtest", m, _keys(n), rescue)
    script = spec.script()
    wallet = VaultWallet(script, None)
    for change in (False, True):
        for index in (0, 1, 7, 99):
            assert wallet.address(change=change, index=index) == script.address(
                change=change, index=index
            )
            assert wallet.script_pubkey(change=change, index=index) == script.script_pubkey(
                change=change, index=index
            )


def test_a_well_dispersed_vault_passes() -> None:
    holders = _holders(list(CITIES[:5]), ["CUSTODY", "TREASURY"] * 2 + ["CUSTODY"])
    spec = VaultSpec("cold-1", "SFDA", "BTC", Tier.COLD, "regtest", 3, _keys(5))
    assert vault_problems(spec, holders) == []


@pytest.mark.parametrize(
    ("sites", "units", "threshold", "reason"),
    [
        (["Astana", "Astana", "Astana", "Almaty", "Oral"], ["A", "B", "A", "B", "A"], 3,
         "Astana holds 3 keys, enough to spend alone (M=3)"),
        (["Astana", "Astana", "Almaty", "Oral", "Aktobe"], ["A", "B", "A", "B", "A"], 4,
         "losing Astana leaves 3 keys, fewer than M=4"),
        (list(CITIES[:5]), ["A"] * 5, 3, "all keys come from A; need two units or more"),
    ],
)  # fmt: skip
def test_vaults_breaking_the_dispersal_rules_are_refused(
    sites: list[str], units: list[str], threshold: int, reason: str
) -> None:
    spec = VaultSpec("cold-1", "SFDA", "BTC", Tier.COLD, "regtest", threshold, _keys(5))
    problems = vault_problems(spec, _holders(sites, [u.replace("A", "AA") for u in units]))
    reasons = [p.reason.replace("AA", "A") for p in problems]
    assert reason in reasons


def test_keys_of_another_network_or_with_a_bad_checksum_are_refused() -> None:
    key = _keys(1)[0]
    bad_checksum = VaultKey(key.key_id, key.holder, key.fingerprint, key.path,
                            key.xpub[:-1] + ("A" if key.xpub[-1] != "A" else "B"))  # fmt: skip
    spec = VaultSpec("cold-1", "SFDA", "BTC", Tier.COLD, "bitcoin", 1, (key, bad_checksum))
    holders = _holders(["Astana", "Almaty"], ["AA", "BB"])
    reasons = {p.reason for p in vault_problems(spec, holders)}
    assert "is not an extended public key for the bitcoin network" in reasons
    assert any(r.startswith("bad base58 checksum") for r in reasons)
