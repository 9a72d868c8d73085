"""Do a spend's outputs and fee match what was approved, change included?

Shared by the PSBT check and the broadcast check. Outputs are compared as a multiset of
(script, amount), so their order (which builders shuffle) does not matter; the change is
recognised only by re-deriving it from the vault's change descriptor, never because a PSBT
says so.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from reserve.core.errors import Problem
from reserve.custody.descriptors import VaultScript
from reserve.custody.vault_paths import CHANGE_LOOKAHEAD, change_index, describe_script


@dataclass(frozen=True)
class Payment:
    """An approved destination: the output script and how many satoshis it receives."""

    script_pubkey: bytes
    amount: int


@dataclass(frozen=True)
class SpendOutput:
    """One output as the PSBT or transaction has it, with the change indexes it claims."""

    script: bytes
    amount: int
    claimed_change: tuple[int, ...] = ()  # indexes from the PSBT's BIP32 derivations
    mentions_vault: bool = False  # carries a derivation under one of the vault's fingerprints


@dataclass(frozen=True)
class OutputVerdict:
    problems: tuple[Problem, ...]
    change_index: int | None  # the re-derived index of the change output, if one was found


def output_check(
    prefix: str,
    outputs: Sequence[SpendOutput],
    vault: VaultScript,
    *,
    payments: Sequence[Payment],
    change: int,
    search: Iterable[int] = (),
) -> OutputVerdict:
    """Compare outputs with approved payments plus (when ``change`` > 0) one change output.

    A change output is searched for among the indexes its PSBT derivation claims, or in
    ``search`` when the caller has no claims (a finished transaction carries none).
    """
    remaining = Counter((p.script_pubkey, p.amount) for p in payments)
    unmatched = []
    for number, out in enumerate(outputs):
        if remaining[(out.script, out.amount)] > 0:
            remaining[(out.script, out.amount)] -= 1
        else:
            unmatched.append((number, out))
    search = tuple(search)
    problems: list[Problem] = []
    found: int | None = None
    for number, out in unmatched:
        where = f"{prefix} output {number}"
        index = change_index(vault, out.script, out.claimed_change or search)
        if index is not None:
            problems += _change_problems(where, out.amount, index, change, seen=found is not None)
            found = index if found is None else found
        elif out.mentions_vault:
            indexes = ", ".join(str(i) for i in out.claimed_change)
            claims = f"index {indexes}" if indexes else "a derivation under a vault key"
            reason = (
                f"claims to be the vault's change ({claims}) but "
                f"{describe_script(out.script, vault.network)} is not re-derivable from the "
                "vault's change descriptor"
            )
            problems.append(Problem(where, "script", reason))
        else:
            problems.append(_stray(where, out, remaining, vault.network))
    for (script, amount), count in remaining.items():
        missing = f"approved payment of {amount} sats to {describe_script(script, vault.network)}"
        problems += [Problem(prefix, "outputs", f"{missing} is missing")] * count
    if change > 0 and found is None:
        reason = f"approved change of {change} sats back to the vault is missing"
        problems.append(Problem(prefix, "change", reason))
    return OutputVerdict(tuple(problems), found)


def _change_problems(
    where: str, amount: int, index: int, change: int, *, seen: bool
) -> list[Problem]:
    if change <= 0:
        reason = f"sends {amount} sats to vault change index {index}; the approval has no change"
        return [Problem(where, "change", reason)]
    if seen:
        return [Problem(where, "change", "a second change output; the approval has one")]
    problems = []
    if amount != change:
        reason = f"change of {amount} sats; the approved change is {change} sats"
        problems.append(Problem(where, "amount", reason))
    if index >= CHANGE_LOOKAHEAD:
        reason = f"change index {index} is beyond the {CHANGE_LOOKAHEAD} a wallet scans"
        problems.append(Problem(where, "change", reason))
    return problems


def _stray(
    where: str, out: SpendOutput, remaining: Counter[tuple[bytes, int]], network: str
) -> Problem:
    """An output that is neither an approved payment nor the vault's change: say how it differs."""
    shown = describe_script(out.script, network)
    for script, amount in remaining:
        if script == out.script and remaining[(script, amount)] > 0:
            remaining[(script, amount)] -= 1
            reason = f"pays {out.amount} sats to {shown}; the approved payment is {amount} sats"
            return Problem(where, "amount", reason)
    return Problem(where, "script", f"not in the approved spend: {out.amount} sats to {shown}")


def fee_problems(
    where: str, input_amounts: Sequence[int | None], outputs: Sequence[SpendOutput], fee: int
) -> list[Problem]:
    """The fee is what the inputs hold minus what the outputs pay; it must equal the approval."""
    if any(amount is None for amount in input_amounts):
        return [Problem(where, "fee", "cannot be computed: an input's amount is unknown")]
    actual = sum(a for a in input_amounts if a is not None) - sum(o.amount for o in outputs)
    if actual != fee:
        return [Problem(where, "fee", f"{actual} sats; the approved fee is {fee} sats")]
    return []
