"""The Merkle tree as C2SP tiles (c2sp.org/tlog-tiles): addresses, and which tiles exist.

A tile at level ``L`` is 256 consecutive hashes of the tree at height ``8·L``: tile ``N``
holds the hashes of the perfect subtrees ``(8·L, N·256 + i)``, ``i`` from 0 to 255, which
the ledger stores already (leaf hashes in ``entries``, the rest in ``merkle_nodes``). The
rightmost tiles of a level are partial, ``W`` hashes wide, 1 to 255; every width up to
the tree's is a checkpoint's, since each batch signs one. Entry bundles (``tile/entries``)
hold the leaves that level 0's tiles hash.

Paths are strict: an index is written in groups of three digits, every group but the
last after an ``x`` (1234067 is ``x001/x234/067``), and a path that is not the one way to
write its tile names none.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from shared import merkle

WIDTH = 256
HEIGHT = 8
MAX_LEVEL = 63
MAX_PATH = 40  # seven groups and a width: more than any 64-bit index needs
# Past this a tile's first hash would be past any 64-bit index: no tree has it.
MAX_INDEX = 1 << 55


@dataclass(frozen=True)
class Tile:
    level: int  # -1 for an entry bundle
    index: int
    width: int  # WIDTH when full

    @property
    def entries(self) -> bool:
        return self.level < 0

    @property
    def tree_level(self) -> int:
        """The height in the Merkle tree of the subtrees whose hashes the tile holds."""
        return HEIGHT * max(self.level, 0)

    @property
    def first(self) -> int:
        """The index, at its tree level, of the tile's first hash."""
        return self.index * WIDTH

    def path(self) -> str:
        level = "entries" if self.entries else str(self.level)
        suffix = "" if self.width == WIDTH else f".p/{self.width}"
        return f"tile/{level}/{index_path(self.index)}{suffix}"


def index_path(index: int) -> str:
    groups = [f"{index % 1000:03d}"]
    index //= 1000
    while index:
        groups.append(f"x{index % 1000:03d}")
        index //= 1000
    return "/".join(reversed(groups))


def parse(level: str, rest: str) -> Tile | None:
    """The tile that ``tile/<level>/<rest>`` names, or None if it names none."""
    if len(rest) > MAX_PATH:
        return None  # and no int() of thousands of digits
    parts = rest.split("/")
    width = WIDTH
    if len(parts) >= 2 and parts[-2].endswith(".p"):
        if not parts[-1].isdecimal() or not parts[-1].isascii():
            return None
        width = int(parts.pop())
        parts[-1] = parts[-1].removesuffix(".p")
        if not 1 <= width < WIDTH:
            return None
    digits = "".join(p.removeprefix("x") for p in parts)
    if not digits.isdecimal() or not digits.isascii():
        return None
    if level == "entries":
        number = -1
    elif level.isdecimal() and level.isascii() and int(level) <= MAX_LEVEL:
        number = int(level)
    else:
        return None
    tile = Tile(number, int(digits), width)
    return tile if tile.path() == f"tile/{level}/{rest}" else None


def width_at(level: int, index: int, size: int) -> int:
    """How many hashes tile ``index`` of ``level`` has in a tree of ``size`` (0 to 256);
    an entry bundle (level -1) as many as level 0's tile."""
    return max(0, min(WIDTH, (size >> (HEIGHT * max(level, 0))) - index * WIDTH))


def available(tile: Tile, size: int) -> bool:
    """Whether a tree of ``size`` leaves has all the tile's hashes (or entries): a partial
    tile of an older, smaller tree is there too, and stays as it was."""
    return tile.width <= width_at(tile.level, tile.index, size)


@dataclass
class Store:
    """A client's tiles, kept across its proofs: a tile's path names its width, and its
    hashes never change; and the roots of runs of them it has folded."""

    tiles: dict[str, list[bytes]] = field(default_factory=dict)
    roots: dict[tuple[str, int, int], bytes] = field(default_factory=dict)


def fetcher(size: int, get: Callable[[str], bytes], kept: Store | None = None
            ) -> merkle.Fetch:
    """A ``merkle.Fetch`` that reads the tree of ``size`` from its tiles, each fetched once
    with ``get(path)``, those one proof needs at the same time (``get`` must allow it): a
    proof or a root from the tiles alone, as any client makes them. ``kept`` is a
    client's own store, shared by its proofs: a partial tile of a later size is another
    path, so it serves trees of any size.

    A node of height ``8·L + r`` is the root of ``2**r`` consecutive hashes of one tile at
    level ``L``: the nodes proofs need are aligned, so they never straddle two tiles.
    """
    store = kept if kept is not None else Store()

    def tile_of(key: tuple[int, int]) -> Tile:
        return Tile(key[0], key[1], width_at(key[0], key[1], size))

    def load(tile: Tile) -> list[bytes]:
        data = get(tile.path())
        if tile.width == 0 or len(data) != 32 * tile.width:
            raise LookupError(f"{tile.path()} is {len(data)} bytes, not {32 * tile.width}")
        return [data[i:i + 32] for i in range(0, len(data), 32)]

    def fetch(wanted: set[merkle.Node]) -> Mapping[merkle.Node, bytes]:
        runs, named = {}, {}
        for height, index in wanted:
            level, rest = divmod(height, HEIGHT)
            first = index << rest
            tile = tile_of((level, first // WIDTH))
            named[tile.path()] = tile
            runs[height, index] = (tile.path(), first % WIDTH, 1 << rest)
        missing = sorted(named.keys() - store.tiles.keys())
        if len(missing) == 1:
            # One tile (a client that keeps the others): fetched here, as a thread to
            # fetch it in took longer to start and hand back than the fetch itself.
            store.tiles[missing[0]] = load(named[missing[0]])
        elif missing:
            with ThreadPoolExecutor(max_workers=min(8, len(missing))) as pool:
                store.tiles.update(zip(missing, pool.map(load, [named[p] for p in missing]),
                                       strict=True))
        found: dict[merkle.Node, bytes] = {}
        for node, run in runs.items():
            root = store.roots.get(run)
            if root is None:
                path, offset, count = run
                hashes = store.tiles[path][offset:offset + count]
                if len(hashes) != count:
                    raise LookupError(f"the tiles of a tree of size {size} lack node {node}")
                root = store.roots[run] = merkle.root_of_perfect(hashes)
            found[node] = root
        return found

    return fetch


class Cache:
    """The tiles a process has served, most recently used kept: a tile never changes once
    the tree has all of it, so a tile found here needs no database at all."""

    def __init__(self, capacity: int = 2048) -> None:  # at most 16 MiB of full tiles
        self.capacity = capacity
        self._tiles: OrderedDict[Tile, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, tile: Tile) -> bytes | None:
        with self._lock:
            found = self._tiles.get(tile)
            if found is not None:
                self._tiles.move_to_end(tile)
            return found

    def put(self, tile: Tile, data: bytes) -> None:
        with self._lock:
            self._tiles[tile] = data
            self._tiles.move_to_end(tile)
            while len(self._tiles) > self.capacity:
                self._tiles.popitem(last=False)
