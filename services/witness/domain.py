"""What a witness checks before it cosigns a checkpoint (c2sp.org/tlog-witness), in plain
Python: the request's form, the log's signature, and that the log only grew.

A witness remembers, for each log it follows, the last checkpoint it cosigned. It cosigns a
new one only with a proof that the new tree extends that one, so a log that shows one
history to some and another history to others is caught at the first witness that saw
both: two trees of the same log that neither extends can never both be cosigned.

What it checks of the figures a ledger publishes, as a regional monitor, is in
published.py.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from shared import merkle, notes

MAX_PROOF = 63  # the protocol's limit on consistency proof lines


class Refused(Exception):
    """A submission the witness will not cosign; ``status`` is the protocol's answer."""

    def __init__(self, status: int, message: str, size: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.size = size  # with 409: the size of the last checkpoint cosigned


@dataclass(frozen=True)
class Submission:
    old: int
    proof: list[bytes]
    note: str


@dataclass(frozen=True)
class Cosigned:
    """What the witness last cosigned of a log: nothing yet is size 0, no root."""

    size: int = 0
    root: bytes | None = None


def parse(body: bytes) -> Submission:
    """``old <size>``, zero to 63 base64 hashes, an empty line, then the signed checkpoint;
    each line ends in a newline (as ``shared.notes.add_checkpoint_body`` writes it).
    Anything else is 400."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Refused(400, "The request body is not UTF-8.") from exc
    head, blank, note = text.partition("\n\n")
    lines = head.split("\n")
    size = lines[0].removeprefix("old ")
    if not blank or not lines[0].startswith("old ") or not notes.is_decimal(size):
        raise Refused(400, "The body must begin with the line 'old <size>', and the "
                           "proof end with an empty line before the checkpoint.")
    proof = lines[1:]
    if len(proof) > MAX_PROOF:
        raise Refused(400, f"A consistency proof has at most {MAX_PROOF} hashes.")
    hashes = []
    for number, line in enumerate(proof, 1):
        try:
            value = base64.b64decode(line, validate=True)
        except (binascii.Error, ValueError):
            value = b""
        if len(value) != 32:
            raise Refused(400, f"Proof line {number} is not a base64 SHA-256 hash.")
        hashes.append(value)
    return Submission(int(size), hashes, note)


def origin_of(note: str) -> str:
    """The origin the checkpoint names: its first line."""
    return note.split("\n", 1)[0]


def check(submission: Submission, log: notes.Verifier | None, last: Cosigned
          ) -> notes.Checkpoint:
    """The checkpoint, if the witness may cosign it after ``last``; Refused otherwise, with
    the status tlog-witness gives each failure, checked in its order."""
    origin = origin_of(submission.note)
    if log is None:
        raise Refused(404, f"This witness does not follow a log named {origin!r}.")
    try:
        checkpoint = notes.parse_checkpoint(notes.open_note(submission.note, log))
    except notes.NoteError as exc:
        raise Refused(403, f"The checkpoint is not signed by {origin}'s key: {exc}.") from exc
    if submission.old > checkpoint.size:
        raise Refused(400, f"The old size {submission.old} is larger than the checkpoint's "
                           f"{checkpoint.size}.")
    if submission.old != last.size:
        raise Refused(409, f"The last checkpoint cosigned of {origin} has size {last.size}, "
                           f"not {submission.old}.", last.size)
    if checkpoint.size == 0 and checkpoint.root != merkle.EMPTY_ROOT:
        raise Refused(422, "A checkpoint of size 0 must have the empty tree's root.")
    if submission.old == 0:
        if submission.proof:
            raise Refused(422, "From size 0 the consistency proof must be empty.")
        return checkpoint
    if last.size == checkpoint.size and last.root != checkpoint.root:
        raise Refused(422, f"{origin} signed two different trees of size {checkpoint.size}: "
                           f"a fork. This witness cosigned the other.")
    assert last.root is not None
    try:
        merkle.verify_consistency(last.size, checkpoint.size, submission.proof, last.root,
                                  checkpoint.root)
    except merkle.ProofError as exc:
        raise Refused(422, f"The tree of size {checkpoint.size} does not extend the one of "
                           f"size {last.size} this witness cosigned: {exc}.") from exc
    return checkpoint
