"""A client's proofs from tiles (services.ledger.tiles.fetcher), over tiles made here from
the leaves themselves: the same paths as RFC 9162's from the whole tree, each tile
fetched once, and a client's store of tiles shared by its proofs and by two tree sizes."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest

from services.ledger import tiles, verify
from shared import merkle

LEAVES = [merkle.leaf_hash(hashlib.sha256(str(i).encode()).digest()) for i in range(66_000)]


def _tile_server(size: int, fetched: list[str]) -> Callable[[str], bytes]:
    """Tiles of the tree of the first ``size`` leaves, by path, recording each fetch."""
    levels = [LEAVES[:size]]
    while len(levels[-1]) >= tiles.WIDTH:
        below = levels[-1]
        levels.append([merkle.root_of_perfect(below[i:i + tiles.WIDTH])
                       for i in range(0, len(below) - tiles.WIDTH + 1, tiles.WIDTH)])

    def get(path: str) -> bytes:
        fetched.append(path)
        level, rest = path.removeprefix("tile/").split("/", 1)
        tile = tiles.parse(level, rest)
        assert tile is not None and tiles.available(tile, size), path
        return b"".join(levels[tile.level][tile.first:tile.first + tile.width])

    return get


@pytest.mark.parametrize("index", [0, 255, 256, 40_000, 65_535, 65_536, 65_999])
def test_a_proof_from_tiles_is_the_trees_and_fetches_each_tile_once(index: int) -> None:
    size = len(LEAVES)
    fetched: list[str] = []
    path = merkle.prove(merkle.inclusion_ranges(index, size),
                        tiles.fetcher(size, _tile_server(size, fetched)))
    merkle.verify_inclusion(index, size, LEAVES[index], path, merkle.root_of(LEAVES))
    assert len(fetched) == len(set(fetched)) <= 4


def test_a_client_that_keeps_its_tiles_fetches_only_what_it_lacks() -> None:
    size = 60_000
    fetched: list[str] = []
    get, kept = _tile_server(size, fetched), tiles.Store()
    root = merkle.root_of(LEAVES[:size])
    for index in (1_000, 1_300):  # the same level-1 tile, two level-0 tiles
        path = merkle.prove(merkle.inclusion_ranges(index, size),
                            tiles.fetcher(size, get, kept))
        merkle.verify_inclusion(index, size, LEAVES[index], path, root)
    first = fetched[:-1]
    assert fetched[-1] == "tile/0/005" and "tile/0/005" not in first
    # A bigger tree: its partial tiles are other paths, fetched anew; its full ones kept.
    fetched.clear()
    bigger, later = 60_300, _tile_server(60_300, fetched)
    path = merkle.prove(merkle.inclusion_ranges(1_000, bigger), tiles.fetcher(bigger, later, kept))
    merkle.verify_inclusion(1_000, bigger, LEAVES[1_000], path, merkle.root_of(LEAVES[:bigger]))
    assert fetched and all(".p/" in p for p in fetched), fetched


@pytest.mark.parametrize("size", [0, 255, 256, 511, 65_535, 65_536, 66_000])
def test_every_full_tile_is_checked_once_against_the_tile_above_it(size: int) -> None:
    fetched: list[str] = []
    full = size // tiles.WIDTH + size // tiles.WIDTH ** 2
    assert verify.check_every_tile(size, _tile_server(size, fetched)) == full
    assert {p for p in fetched if ".p/" not in p} == {
        tiles.Tile(level, n, tiles.WIDTH).path()
        for level in (0, 1) for n in range(size // tiles.WIDTH ** (level + 1))}


@pytest.mark.parametrize(("forged", "named"), [
    ("tile/0/100", "tile/0/100 does not hash to hash 100 of tile/1/000:"),
    ("tile/0/256", "tile/0/256 does not hash to hash 0 of tile/1/001.p/1:"),
    ("tile/1/000", "tile/0/001 does not hash to hash 1 of tile/1/000:")])
def test_a_full_tile_that_disagrees_with_the_tile_above_it_is_named(forged: str,
                                                                    named: str) -> None:
    """One hash of one full tile changed: the check names the pair of tiles that disagree.
    (The partial tiles at the right edge give the root, which check_tiles compares.)"""
    size = 66_000
    honest = _tile_server(size, [])

    def get(path: str) -> bytes:
        data = honest(path)
        return data[:32] + merkle.leaf_hash(b"forged") + data[64:] if path == forged else data

    with pytest.raises(verify.VerifyError) as refused:
        verify.check_every_tile(size, get)
    assert str(refused.value).startswith(named)
