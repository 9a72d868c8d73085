"""Sanctions lists, the transfer policy and the whitelist, read from disk and fingerprinted.

The sanctions folder (``data/sanctions``) holds one ``sanctioned_addresses_<TICKER>.txt`` per
ticker and a ``MANIFEST.toml`` saying when the lists were regenerated (``as_of``), because file
times say when they were copied, not how current they are. The manifest may also pin the lists'
sha256: then a list edited without updating the manifest is refused instead of being used under
a date that no longer describes it.
"""

from __future__ import annotations

import hashlib
import tomllib
from datetime import date, datetime
from pathlib import Path
from typing import Final

from reserve.core.errors import IntegrityFailure, InvalidInput, Problem
from reserve.custody.sanctions import SanctionsList, build_sanctions_list
from reserve.custody.transfer_policy import (
    TransferPolicy,
    Whitelist,
    parse_transfer_policy,
    parse_whitelist,
)
from reserve.governance.people import Role

MANIFEST: Final = "MANIFEST.toml"
LIST_GLOB: Final = "sanctioned_addresses_*.txt"
_MANIFEST_KEYS: Final = frozenset({"as_of", "sha256"})


def _read_text(path: Path, where: str) -> tuple[bytes, str]:
    """The file's bytes and its UTF-8 text; a one-line error naming the file otherwise."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise InvalidInput.one(where, "file", f"cannot read it: {error.strerror}") from None
    try:
        return raw, raw.decode("utf-8")
    except UnicodeDecodeError as error:
        reason = f"is not UTF-8 text (byte {error.start}: {error.reason})"
        raise InvalidInput.one(where, "file", reason) from None


def _manifest(folder: Path) -> tuple[date, str | None]:
    _raw, text = _read_text(folder / MANIFEST, MANIFEST)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise InvalidInput.one(MANIFEST, "file", f"is not valid TOML: {error}") from None
    unknown = sorted(set(data) - _MANIFEST_KEYS)
    if unknown:
        reason = "unknown key (as_of and sha256 are known)"
        raise InvalidInput([Problem(MANIFEST, key, reason) for key in unknown])
    as_of = data.get("as_of")
    if not isinstance(as_of, date) or isinstance(as_of, datetime):
        reason = "must be the lists' regeneration date, written as a TOML date: 2025-11-19"
        raise InvalidInput.one(MANIFEST, "as_of", reason)
    pinned = data.get("sha256")
    if pinned is not None and not isinstance(pinned, str):
        raise InvalidInput.one(MANIFEST, "sha256", "must be a string of 64 hex digits")
    return as_of, pinned


def load_sanctions(folder: Path) -> SanctionsList:
    """The union of every list in ``folder``, dated by its manifest."""
    as_of, pinned = _manifest(folder)
    paths = sorted(folder.glob(LIST_GLOB))
    if not paths:
        raise InvalidInput.one(folder.name, LIST_GLOB, "no sanctions list in the folder")
    files = {path.name: _read_text(path, path.name)[1] for path in paths}
    sanctions = build_sanctions_list(files, as_of)
    if pinned is not None and pinned.lower() != sanctions.sha256:
        raise IntegrityFailure(
            f"{MANIFEST}: sha256 {pinned} is not the lists' sha256 {sanctions.sha256}: "
            "the lists changed; check them and update as_of and sha256 together"
        )
    return sanctions


def load_transfer_policy(path: Path) -> tuple[TransferPolicy, str]:
    """The transfer policy at ``path`` and the sha256 of its bytes; role names must exist."""
    raw, text = _read_text(path, path.name)
    known = frozenset(role.value for role in Role)
    return parse_transfer_policy(text, path.name, known_roles=known), _sha256(raw)


def load_whitelist(path: Path) -> tuple[Whitelist, str]:
    """The whitelist at ``path`` and the sha256 of its bytes."""
    raw, text = _read_text(path, path.name)
    return parse_whitelist(text, path.name), _sha256(raw)


def _sha256(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()
