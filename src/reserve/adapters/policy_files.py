"""Policy files (TOML) read from disk, validated by their domain model, and fingerprinted."""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path

from reserve.core.errors import InvalidInput
from reserve.intake.policy import PolicyInForce, parse_policy


def load_intake_policy(path: Path) -> PolicyInForce:
    """The intake policy at ``path`` with its sha256; a clear error naming the file otherwise."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise InvalidInput.one(path.name, "file", f"cannot read it: {error.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise InvalidInput.one(path.name, "file", f"is not valid TOML: {error}") from None
    policy = parse_policy(data, where=path.name)
    return PolicyInForce(policy=policy, sha256=hashlib.sha256(raw).hexdigest())
