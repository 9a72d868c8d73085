"""Sanctions screening against the real vendored OFAC lists (data/sanctions), without a database."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from reserve.adapters.sanctions_files import MANIFEST, load_sanctions
from reserve.core.errors import IntegrityFailure, InvalidInput
from reserve.custody.sanctions import (
    SanctionsList,
    build_sanctions_list,
    is_stale,
    list_age_days,
    normalise_address,
    screen,
)

SANCTIONS_DIR = Path(__file__).resolve().parents[2] / "data" / "sanctions"
XBT_BASE58 = "123WBUDmSJv4GctdVEz6Qq6z8nXSKrJ4KX"  # first line of the XBT list
XBT_BECH32 = "bc1q05aktddf9ce4p7hh3stgsf253m4vweu7nkhtmw"
TRON_IN_XBT = "TUCsTq7TofTCJRRoHk6RvhMoS2mJLm5Yzq"  # a Tron address OFAC filed under XBT
ETH_CHECKSUMMED = "0x04DBA1194ee10112fE6C3207C0687DEf0e78baCf"  # as written in the ETH list
XMR_HEX64 = "5be5543ff73456ab9f2d207887e2af87322c651ea1a873c5b25b7ffae456c320"
CLEAN_BTC = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"  # a well-known non-sanctioned address
AS_OF = date(2025, 11, 19)


@pytest.fixture(scope="module")
def real() -> SanctionsList:
    return load_sanctions(SANCTIONS_DIR)


def test_the_manifest_dates_the_real_lists_and_every_ticker_is_in_the_union(
    real: SanctionsList,
) -> None:
    assert real.as_of == AS_OF
    assert len(real.lists) == 19
    assert "sanctioned_addresses_SOL.txt" in real.lists
    assert all(name.startswith("sanctioned_addresses_") for name in real.lists)
    assert len(real.entries) > 700


def test_a_known_bitcoin_address_is_a_hit(real: SanctionsList) -> None:
    assert screen(real, [CLEAN_BTC, XBT_BASE58, XBT_BECH32]) == [XBT_BASE58, XBT_BECH32]


def test_the_tron_address_filed_under_xbt_is_a_hit_for_tron(real: SanctionsList) -> None:
    trx_list = (SANCTIONS_DIR / "sanctioned_addresses_TRX.txt").read_text(encoding="utf-8")
    assert TRON_IN_XBT not in trx_list.split()  # only the union catches it
    assert screen(real, [TRON_IN_XBT]) == [TRON_IN_XBT]


@pytest.mark.parametrize(
    "spelling",
    [ETH_CHECKSUMMED.lower(), "0x" + ETH_CHECKSUMMED[2:].upper(), f"  {ETH_CHECKSUMMED}\n"],
)
def test_an_evm_address_matches_in_any_letter_case(real: SanctionsList, spelling: str) -> None:
    assert screen(real, [spelling]) == [spelling]


def test_an_upper_case_bech32_address_is_the_same_address(real: SanctionsList) -> None:
    assert XBT_BECH32.upper() in real
    assert normalise_address(XBT_BECH32.upper()) == XBT_BECH32


def test_base58_and_the_xmr_hex_string_are_compared_as_written(real: SanctionsList) -> None:
    # base58 is case-sensitive: another case is another (or no) address, not an evasion
    assert XBT_BASE58 in real
    assert XBT_BASE58.lower() not in real
    assert XMR_HEX64 in real
    assert normalise_address(XMR_HEX64.upper()) == XMR_HEX64.upper()
    assert XMR_HEX64.upper() not in real


def test_cashaddr_with_its_prefix_matches_the_bare_list_entry(real: SanctionsList) -> None:
    assert "bitcoincash:qpf2cphc5dkuclkqur7lhj2yuqq9pk3hmukle77vhq" in real
    assert "BITCOINCASH:QPF2CPHC5DKUCLKQUR7LHJ2YUQQ9PK3HMUKLE77VHQ" in real


def test_screen_reports_each_hit_once_in_the_order_given(real: SanctionsList) -> None:
    assert screen(real, [XBT_BECH32, CLEAN_BTC, TRON_IN_XBT, XBT_BECH32]) == [
        XBT_BECH32,
        TRON_IN_XBT,
    ]
    assert screen(real, []) == []


def test_the_stale_check_flips_just_after_exactly_the_maximum_age(real: SanctionsList) -> None:
    at_max = datetime(2026, 2, 17, 23, 59, tzinfo=UTC)  # 90 days after 2025-11-19
    assert list_age_days(real, at_max) == 90
    assert not is_stale(real, at_max, 90)
    assert is_stale(real, at_max + timedelta(minutes=1), 90)
    assert list_age_days(real, at_max + timedelta(minutes=1)) == 91


def test_age_is_counted_on_the_utc_date() -> None:
    lists = build_sanctions_list({"a.txt": "x\n"}, AS_OF)
    almaty = datetime(2025, 11, 20, 2, 0, tzinfo=timezone(timedelta(hours=5)))  # 19th, 21:00 UTC
    assert list_age_days(lists, almaty) == 0
    assert list_age_days(lists, almaty + timedelta(hours=3)) == 1
    with pytest.raises(ValueError, match="tz-aware"):
        list_age_days(lists, datetime(2025, 11, 20))


def _copy(tmp_path: Path) -> Path:
    folder = tmp_path / "sanctions"
    shutil.copytree(SANCTIONS_DIR, folder)
    return folder


def test_the_sha256_changes_when_one_list_line_changes(tmp_path: Path, real: SanctionsList) -> None:
    folder = _copy(tmp_path)
    (folder / MANIFEST).write_text("as_of = 2025-11-19\n", encoding="utf-8")  # no pin
    assert load_sanctions(folder).sha256 == real.sha256
    xmr = folder / "sanctioned_addresses_XMR.txt"
    xmr.write_text(xmr.read_text(encoding="utf-8").replace("5be5", "5be6"), encoding="utf-8")
    changed = load_sanctions(folder)
    assert changed.sha256 != real.sha256
    assert XMR_HEX64 not in changed


def test_a_list_changed_under_a_pinned_manifest_is_refused(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    with (folder / "sanctioned_addresses_ZEC.txt").open("a", encoding="utf-8") as lst:
        lst.write("t1NotReallyAnAddress\n")
    with pytest.raises(IntegrityFailure, match="the lists changed"):
        load_sanctions(folder)


def test_json_copies_and_the_checksum_file_are_left_out(real: SanctionsList) -> None:
    assert not any(name.endswith(".json") for name in real.lists)
    assert "sdn_advanced_checksum.txt" not in real.lists
    with_json = build_sanctions_list({"a.txt": "x\n", "a.json": '["y"]'}, AS_OF)
    assert with_json.entries == frozenset({"x"})
    assert with_json.sha256 == build_sanctions_list({"a.txt": "x\n"}, AS_OF).sha256


def test_the_sha256_does_not_let_text_move_between_file_names() -> None:
    one = build_sanctions_list({"a.txt": "x\n", "b.txt": "y\n"}, AS_OF)
    other = build_sanctions_list({"a.txt": "x\nb.txt", "b.txt": "y\n"}, AS_OF)
    assert one.sha256 != other.sha256
    assert one.entries == frozenset({"x", "y"})


def test_blank_lines_and_crlf_are_ignored() -> None:
    text = "\r\n x \r\n\r\n0xABCDEFabcdef0123456789abcdef012345678901\r\n"
    lists = build_sanctions_list({"a.txt": text}, AS_OF)
    assert lists.entries == frozenset({"x", "0xabcdefabcdef0123456789abcdef012345678901"})


@pytest.mark.parametrize("files", [{}, {"a.json": "[]"}, {"a.txt": "\n \n"}])
def test_no_list_at_all_is_refused(files: dict[str, str]) -> None:
    with pytest.raises(InvalidInput) as caught:
        build_sanctions_list(files, AS_OF)
    assert caught.value.problems[0].field == "lists"


@pytest.mark.parametrize(
    ("manifest", "field", "reason"),
    [
        ('as_of = "2025-11-19"\n', "as_of", "TOML date"),
        ("as_of = 2025-11-19T00:00:00Z\n", "as_of", "TOML date"),
        ("as_of = 2025-11-19\nsource = 1\n", "source", "unknown key"),
        ("as_of = 2025-11-19\nsha256 = 7\n", "sha256", "64 hex"),
        ("as_of = \n", "file", "not valid TOML"),
    ],
)
def test_a_bad_manifest_names_its_field(
    tmp_path: Path, manifest: str, field: str, reason: str
) -> None:
    folder = _copy(tmp_path)
    (folder / MANIFEST).write_text(manifest, encoding="utf-8")
    with pytest.raises(InvalidInput) as caught:
        load_sanctions(folder)
    problem = caught.value.problems[0]
    assert (problem.where, problem.field) == (MANIFEST, field)
    assert reason in problem.reason


def test_a_folder_without_manifest_or_lists_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"MANIFEST\.toml: file: cannot read it"):
        load_sanctions(tmp_path)
    (tmp_path / MANIFEST).write_text("as_of = 2025-11-19\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="no sanctions list"):
        load_sanctions(tmp_path)


def test_a_list_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    (folder / "sanctioned_addresses_XRP.txt").write_bytes(b"r\xff\xfe\n")
    with pytest.raises(InvalidInput, match=r"sanctioned_addresses_XRP\.txt: file: is not UTF-8"):
        load_sanctions(folder)
