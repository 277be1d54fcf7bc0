"""The citizens of each area, unit and month as sets: what a range that is not one
calendar period counts its distinct and returning citizens from.

Each pseudonym gets a dense number (``citizen_ids``). A month's citizens in a unit are
a Roaring bitmap of those numbers, with a second one of those involved twice or more
that month (``citizen_months``). The projection moves them as involvements come and go.

Over a range of months, a citizen counts once if in any month's first set, and
returns if in any month's second set or in the first sets of two of the months (or of
two units, when units are counted together). The sum of the counted citizens' record
keys, which decides how a figure rounds for readers below admin, is the sum over the
key's bits of each bit's value times the size of the set's intersection with the
citizens whose key has that bit (``citizen_key_bits``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import cast

import sqlalchemy as sa
from pyroaring import BitMap
from sqlalchemy.orm import Session

from services.ledger.disclosure import Reach, citizen_key
from services.ledger.models import CitizenId, CitizenKeyBit, CitizenMonth
from services.ledger.upserts import delete_rows, put_rows, rows_with_keys
from shared.db import executemany, table_insert

# citizen_key gives -1 for a digit that is not hex: adding this makes every key >= 0.
OFFSET = sum(16 ** i for i in range(6))
KEY_BITS = (16 ** 6 - 1 + OFFSET).bit_length()
# Citizen numbers per citizen_key_bits row: only the last chunk's rows change.
CHUNK = 1 << 16

IDS_TABLE = cast(sa.Table, CitizenId.__table__)
MONTHS_TABLE = cast(sa.Table, CitizenMonth.__table__)
KEY_BITS_TABLE = cast(sa.Table, CitizenKeyBit.__table__)
# (area, org unit or '*', month as YYYY-MM)
Cell = tuple[str, str, str]
CELL_KEY = ("area", "org_unit", "month")


@dataclass
class Moves:
    """The citizens (pseudonyms) joining and leaving a cell's two sets."""

    once_in: set[str] = field(default_factory=set)
    once_out: set[str] = field(default_factory=set)
    twice_in: set[str] = field(default_factory=set)
    twice_out: set[str] = field(default_factory=set)

    def flip(self, pseudonym: str, least: int, joined: bool) -> None:
        """The citizen's count crossed ``least`` (1 or 2), up if ``joined``."""
        name = "once" if least == 1 else "twice"
        getattr(self, f"{name}_{'in' if joined else 'out'}").add(pseudonym)


def numbers(session: Session, pseudonyms: Iterable[str]) -> dict[str, int]:
    """Each pseudonym's number; those never seen get the next ones, in order."""
    wanted = sorted(set(pseudonyms))
    found = {p: n for p, n in rows_with_keys(session, IDS_TABLE, ("pseudonym",),
                                              [(p,) for p in wanted], ("id",))}
    new = [p for p in wanted if p not in found]
    if new:
        last = session.scalar(sa.select(sa.func.max(IDS_TABLE.c.id)))
        start = 0 if last is None else last + 1
        numbered = {p: start + i for i, p in enumerate(new)}
        executemany(session.connection(), table_insert(IDS_TABLE),
                    [{"id": n, "pseudonym": p} for p, n in numbered.items()])
        _add_keys(session, {n: citizen_key(p) for p, n in numbered.items()})
        found.update(numbered)
    return found


def _add_keys(session: Session, keys: Mapping[int, int]) -> None:
    """Add these citizens (number -> record key) to the bitmaps of their keys' bits."""
    added: dict[tuple[int, int], list[int]] = defaultdict(list)
    for number, key in keys.items():
        shifted = key + OFFSET
        for bit in range(KEY_BITS):
            if shifted >> bit & 1:
                added[(number // CHUNK, bit)].append(number)
    table = KEY_BITS_TABLE
    have = {(c, b): BitMap.deserialize(m) for c, b, m in session.execute(
        sa.select(table.c.chunk, table.c.bit, table.c.members)
        .where(table.c.chunk.in_({chunk for chunk, _ in added})))}
    put_rows(session, table, [
        {"chunk": c, "bit": b, "members": ((have.get((c, b)) or BitMap()) | BitMap(n)).serialize()}
        for (c, b), n in added.items()], ("members",), ("chunk", "bit"))


def move(session: Session, moves: Mapping[Cell, Moves]) -> None:
    """Apply each cell's moves to its sets, numbering citizens never seen; a cell left
    with no citizen is deleted."""
    if not moves:
        return
    number = numbers(session, {p for moved in moves.values()
                               for part in (moved.once_in, moved.once_out,
                                            moved.twice_in, moved.twice_out) for p in part})

    def of(pseudonyms: set[str]) -> BitMap:
        return BitMap(number[p] for p in pseudonyms)

    have = {(a, u, m): (BitMap.deserialize(once), BitMap.deserialize(twice))
            for a, u, m, once, twice in rows_with_keys(
                session, MONTHS_TABLE, CELL_KEY, list(moves), ("once", "twice"))}
    kept, gone = [], []
    for cell, moved in moves.items():
        once, twice = have.get(cell) or (BitMap(), BitMap())
        once = (once | of(moved.once_in)) - of(moved.once_out)
        twice = (twice | of(moved.twice_in)) - of(moved.twice_out)
        if once:
            kept.append({**dict(zip(CELL_KEY, cell, strict=True)),
                         "once": once.serialize(), "twice": twice.serialize()})
        elif cell in have:
            gone.append(cell)
    put_rows(session, MONTHS_TABLE, kept, ("once", "twice"), CELL_KEY)
    delete_rows(session, MONTHS_TABLE, CELL_KEY, gone)


def reach(session: Session, area: str, units: Collection[str] | None, months: Iterable[str],
          by_unit: bool, keyed: bool = True) -> dict[str, Reach]:
    """The distinct and returning citizens of ``units`` ('*' is all units; None is every
    real unit) over ``months``: per unit when ``by_unit``, else one figure keyed by the
    area; with the sums of their record keys when ``keyed``."""
    table = MONTHS_TABLE
    stmt = sa.select(table.c.org_unit, table.c.once, table.c.twice).where(
        table.c.area == area, table.c.month.in_(sorted(set(months))))
    stmt = stmt.where(table.c.org_unit.in_(sorted(units)) if units is not None
                      else table.c.org_unit != "*")
    sets: dict[str, tuple[BitMap, BitMap]] = {}
    for org_unit, once_bytes, twice_bytes in session.execute(stmt):
        group = org_unit if by_unit else area
        once, twice = sets.setdefault(group, (BitMap(), BitMap()))
        month_once = BitMap.deserialize(once_bytes)
        # Involved in an earlier month (or unit) and in this one: twice over the range.
        twice |= BitMap.deserialize(twice_bytes)
        twice |= once & month_once
        once |= month_once
    bits = _key_bits(session, sets) if keyed and sets else []
    return {group: Reach(len(once), len(twice), _key_sum(once, bits), _key_sum(twice, bits))
            for group, (once, twice) in sets.items()}


def _key_bits(session: Session, sets: Mapping[str, tuple[BitMap, BitMap]]) -> list[BitMap]:
    """Each key bit's citizens, over the chunks of numbers these sets hold."""
    everyone = BitMap.union(*(once for once, _ in sets.values()))
    if not everyone:
        return []
    lowest, highest = everyone.min(), everyone.max()
    table = KEY_BITS_TABLE
    bits = [BitMap() for _ in range(KEY_BITS)]
    for bit, members in session.execute(
            sa.select(table.c.bit, table.c.members)
            .where(table.c.chunk.between(lowest // CHUNK, highest // CHUNK))):
        bits[bit] |= BitMap.deserialize(members)
    return bits


def _key_sum(citizens: BitMap, bits: list[BitMap]) -> int:
    if not bits:
        return 0
    return sum(citizens.intersection_cardinality(b) << i
               for i, b in enumerate(bits)) - OFFSET * len(citizens)
