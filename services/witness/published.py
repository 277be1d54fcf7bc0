"""What a witness checks of the figures a ledger publishes before it keeps them, as a
regional monitor (docs/witness.md), in plain Python: a release's tree head signed by the
ledger's key, extended by a checkpoint the witness cosigned, figures that are the bytes
the release names, and disclosure-controlled as published (every count a multiple of the
base, every hidden figure empty and named). Fetching and keeping are in service.py.
"""

from __future__ import annotations

import base64
import binascii
import csv
import hashlib
import io
import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeGuard

from services.witness.domain import Cosigned
from shared import merkle, notes, text

PERIODS = {"year": r"\d{4}", "quarter": r"\d{4}-Q[1-4]", "month": r"\d{4}-(0[1-9]|1[0-2])"}
PERIOD = "|".join(PERIODS.values())
# The columns of a release's figures that say which cell a row is, with their longest
# values (the witness's columns are as wide); and the one that names the hidden figures.
KEYS = {"area": 64, "org_unit": 256, "period_kind": 16, "period": 16}
SUPPRESSED = "suppressed"
# The types a release's dictionary gives the figures themselves: every other column (the
# period's first day, the rubric versions) is left out of the comparison.
MEASURE_TYPES = ("count", "share", "number")
MEASURE_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
NUMBER = re.compile(r"\d{1,20}(\.\d{1,20})?(e[-+]?\d{1,3})?", re.IGNORECASE | re.ASCII)
MAX_PROOF_HASHES = 128  # a consistency proof in a tree of 2**64 entries has fewer
# The comparison's own columns, before the measures and ``suppressed``: a measure may not
# take one of their names.
COMPARISON = ("origin", "state", "checked_at", "problem", "checkpoint_size", "cosigned_at",
              "release_id", "release_period", "release_created_at", "release_tree_size",
              "entries_behind", "fetched_at", "disclosure", "area", "org_unit", "period_kind",
              "period")


class FiguresRefused(Exception):
    """A release whose figures the witness will not keep: the message says why."""


class NotYet(Exception):
    """A release of a tree larger than the last checkpoint this witness cosigned of its log:
    it is checked once a checkpoint the witness cosigned covers it."""


@dataclass(frozen=True)
class Release:
    """A release as its ledger describes it (``GET /v1/releases``)."""

    id: int
    period_kind: str
    period: str
    created_at: datetime
    replaces: int | None
    size: int
    timestamp: int
    root: bytes
    signature: bytes
    disclosure: dict[str, Any]
    figures_sha256: str


@dataclass(frozen=True)
class Row:
    """One row of a release's figures: a hidden figure is None, and named in ``suppressed``."""

    area: str
    org_unit: str
    period_kind: str
    period: str
    figures: dict[str, int | float | None]
    suppressed: tuple[str, ...]


def release_id(item: Any) -> int | None:
    """The id a ledger gives a release, if it gives one that can be: to record a refusal."""
    value = item.get("id") if isinstance(item, dict) else None
    return value if _whole(value, 1) else None


def _whole(value: Any, least: int = 0) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and least <= value < 1 << 63


def parse_release(item: Any) -> Release:
    """A release from its description; FiguresRefused for one not as the ledger writes it."""
    try:
        head = item["tree_head"]
        kind, period, replaces = item["period_kind"], item["period"], item.get("replaces")
        if not (_whole(item["id"], 1) and kind in PERIODS and isinstance(period, str)
                and re.fullmatch(PERIODS[kind], period, re.ASCII) and (replaces is None
                                                              or _whole(replaces, 1))):
            raise ValueError("its id, period or the release it replaces is not one")
        if not (_whole(head["tree_size"], 1) and _whole(head["timestamp"])):
            raise ValueError("its tree head has no size or time")
        created = datetime.fromisoformat(item["created_at"])
        if created.tzinfo is None:
            raise ValueError("its time has no offset")
        root = base64.b64decode(head["sha256_root_hash"], validate=True)
        signature = base64.b64decode(head["tree_head_signature"], validate=True)
        digest = item["figures_sha256"]
        if len(root) != 32 or len(signature) != 64 or not isinstance(digest, str) \
                or not re.fullmatch(r"[0-9a-f]{64}", digest):
            raise ValueError("its root hash, signature or SHA-256 is not one")
        if not isinstance(item["disclosure"], dict):
            raise ValueError("it does not say how its figures were made")
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise FiguresRefused(f"release {release_id(item)} is not described as a ledger "
                             f"describes one: {exc}") from exc
    return Release(item["id"], kind, period, created.astimezone(UTC).replace(tzinfo=None),
                   replaces, head["tree_size"], head["timestamp"], root, signature,
                   item["disclosure"], digest)


def disclosure_base(release: Release) -> int:
    """The base the release's counts are rounded to; FiguresRefused for exact figures, or a
    method without a base and a threshold."""
    label = release.disclosure
    base, threshold = label.get("base"), label.get("threshold")
    method = label.get("method")
    if not isinstance(method, str) or method == "exact" or not _whole(base, 2) \
            or not _whole(threshold) or threshold < base:
        raise FiguresRefused(f"release {release.id} does not say its figures are "
                             f"disclosure-controlled ({json.dumps(label)[:200]}): only "
                             f"those are kept")
    return base


def check_signed(release: Release, log: notes.Verifier) -> None:
    """The release's tree head is signed by the log's key."""
    if not log.verifies(merkle.tree_head_bytes(release.size, release.timestamp, release.root),
                        release.signature):
        raise FiguresRefused(f"release {release.id}'s tree head (size {release.size}) is "
                             f"not signed by {log.name}'s key")


def needs_proof(release: Release, last: Cosigned) -> bool:
    """Whether the release's tree is older than the last checkpoint cosigned, so that a
    consistency proof must show the checkpoint extends it. NotYet while no cosigned
    checkpoint covers it; FiguresRefused for another tree of the cosigned size."""
    if last.root is None or release.size > last.size:
        raise NotYet(f"release {release.id} is of a tree of {release.size} entries, and the "
                     f"last checkpoint this witness cosigned has {last.size}")
    if release.size == last.size:
        if release.root != last.root:
            raise FiguresRefused(f"release {release.id} is of a tree of {release.size} "
                                 f"entries other than the one this witness cosigned: a fork")
        return False
    return True


def parse_proof(body: bytes) -> list[bytes]:
    """The hashes of a ``get-sth-consistency`` answer."""
    try:
        hashes = [base64.b64decode(h, validate=True)
                  for h in json.loads(body)["consistency"][:MAX_PROOF_HASHES + 1]]
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise FiguresRefused(f"the consistency proof is not one: {exc}") from exc
    if len(hashes) > MAX_PROOF_HASHES or any(len(h) != 32 for h in hashes):
        raise FiguresRefused("the consistency proof is not one: too long, or not of hashes")
    return hashes


def check_extends(release: Release, last: Cosigned, proof: list[bytes]) -> None:
    """The last checkpoint cosigned extends the release's tree."""
    assert last.root is not None
    try:
        merkle.verify_consistency(release.size, last.size, proof, release.root, last.root)
    except merkle.ProofError as exc:
        raise FiguresRefused(f"the checkpoint of {last.size} entries this witness cosigned "
                             f"does not extend release {release.id}'s tree of "
                             f"{release.size}: {exc}") from exc


def check_unchanged(item: Any, kept_sha256: str) -> None:
    """A release kept is listed with the SHA-256 its figures were kept with: a release
    never changes, so another is the ledger showing this witness a second version."""
    listed = item.get("figures_sha256") if isinstance(item, dict) else None
    if listed != kept_sha256:
        raise FiguresRefused(f"release {release_id(item)} now gives the SHA-256 "
                             f"{str(listed)[:64]} for its figures; this witness kept them "
                             f"with {kept_sha256}")


def check_digest(release: Release, figures: bytes) -> str:
    """The figures, if they are the bytes whose SHA-256 the release gives."""
    found = hashlib.sha256(figures).hexdigest()
    if found != release.figures_sha256:
        raise FiguresRefused(f"release {release.id}'s figures are not the ones it describes: "
                             f"their SHA-256 is {found}, not {release.figures_sha256}")
    try:
        return figures.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FiguresRefused(f"release {release.id}'s figures are not UTF-8") from exc


def column_types(release: Release, dictionary: bytes) -> dict[str, str]:
    """Each column of the release's figures and its type, from its data dictionary."""
    try:
        lines = list(csv.reader(io.StringIO(dictionary.decode("utf-8"), newline="")))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise FiguresRefused(f"release {release.id}'s dictionary is not CSV: {exc}") from exc
    if not lines or lines[0][:2] != ["column", "type"]:
        raise FiguresRefused(f"release {release.id}'s dictionary has no columns 'column' "
                             f"and 'type'")
    types = {line[0]: line[1] for line in lines[1:] if len(line) >= 2 and line[0]}
    for name in (*KEYS, SUPPRESSED):
        if types.get(name) != "text":
            raise FiguresRefused(f"release {release.id}'s dictionary has no text column "
                                 f"{name!r}")
    for name, kind in types.items():
        if kind in MEASURE_TYPES and (not MEASURE_NAME.fullmatch(name) or name in COMPARISON):
            raise FiguresRefused(f"release {release.id}'s dictionary names a figure "
                                 f"{text.shown(name)[:70]!r}, which this witness cannot show")
    return types


def read_figures(release: Release, figures: str, types: dict[str, str],
                 base: int) -> list[Row]:
    """The rows of a release's figures; FiguresRefused unless every one is as a ledger
    publishes it: its columns those of the dictionary, each figure a number or empty, each
    count a multiple of ``base``, each share at most 1, each hidden figure empty and named,
    and some of them of the release's own period."""
    where = f"release {release.id}'s figures"
    try:
        lines = list(csv.reader(io.StringIO(figures, newline="")))
    except csv.Error as exc:
        raise FiguresRefused(f"{where} are not CSV: {exc}") from exc
    if not lines or lines[0] != list(types):
        raise FiguresRefused(f"{where} do not have the columns their dictionary lists")
    header = lines[0]
    measures = [name for name in header if types[name] in MEASURE_TYPES]
    rows: list[Row] = []
    seen: set[tuple[str, str, str]] = set()
    for number, cells in enumerate(lines[1:], 2):
        if len(cells) != len(header):
            raise FiguresRefused(f"{where}: line {number} has {len(cells)} cells, not "
                                 f"{len(header)}")
        cell = dict(zip(header, cells, strict=True))
        for name, longest in KEYS.items():
            if not cell[name] or len(cell[name]) > longest or text.problem(cell[name]):
                raise FiguresRefused(f"{where}: line {number} has no {name} this witness "
                                     f"can keep")
        kind, period = cell["period_kind"], cell["period"]
        if kind not in PERIODS or not re.fullmatch(PERIODS[kind], period, re.ASCII):
            raise FiguresRefused(f"{where}: line {number} is of no period")
        if (cell["area"], cell["org_unit"], period) in seen:
            raise FiguresRefused(f"{where}: line {number} repeats a cell")
        seen.add((cell["area"], cell["org_unit"], period))
        shown = {name: _figure(cell[name], types[name], base, f"{where}: line {number}, "
                                                               f"{name}")
                 for name in measures}
        hidden = tuple(cell[SUPPRESSED].split())
        for name in hidden:
            if shown.get(name, 0) is not None:
                raise FiguresRefused(f"{where}: line {number} names {text.shown(name)[:70]!r} "
                                     f"hidden, and it is not an empty figure")
        rows.append(Row(cell["area"], cell["org_unit"], kind, period, shown, hidden))
    if not any(row.period == release.period for row in rows):
        raise FiguresRefused(f"{where} have none of its period, {release.period}")
    return rows


def _figure(cell: str, kind: str, base: int, where: str) -> int | float | None:
    if cell == "":
        return None
    if not NUMBER.fullmatch(cell):
        raise FiguresRefused(f"{where} is not a number of 0 or more")
    value = float(cell)
    if not math.isfinite(value):
        raise FiguresRefused(f"{where} is not a finite number")
    if kind == "count":
        if not value.is_integer() or int(value) % base:
            raise FiguresRefused(f"{where} is {cell}: every published count is a multiple "
                                 f"of {base}")
        return int(value)
    if kind == "share" and value > 1:
        raise FiguresRefused(f"{where} is {cell}: a share is at most 1")
    return value


