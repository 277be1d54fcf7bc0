"""RFC 9162 Merkle trees: published test vectors, and properties over random trees.

The vectors are the RFC 6962 test data of transparency-dev/merkle, the Merkle
library of Trillian and Tessera: testonly/constants.go (LeafInputs, RootHashes,
NodeHashes) and proof/verify_test.go (inclusionProofs, consistencyProofs).
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared import merkle

LEAVES = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243",
                                      "5051525354555657", "606162636465666768696a6b6c6d6e6f")]
ROOTS = [bytes.fromhex(h) for h in (
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
)]
H = bytes.fromhex
# (leaf index, tree size, path): verify_test.go numbers leaves from 1; these from 0.
INCLUSION = [
    (0, 8, [H("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            H("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            H("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")]),
    (5, 8, [H("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            H("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            H("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")]),
    (2, 3, [H("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")]),
    (1, 5, [H("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
            H("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            H("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b")]),
]
CONSISTENCY = [
    (1, 8, [H("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            H("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            H("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")]),
    (6, 8, [H("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            H("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            H("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")]),
    (2, 5, [H("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            H("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b")]),
    (6, 7, [H("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            H("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
            H("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")]),
]


def store(leaves: list[bytes]) -> dict[merkle.Node, bytes]:
    """Every complete node of a tree, as the ledger stores them."""
    nodes: dict[merkle.Node, bytes] = {}
    tree = merkle.CompactRange()
    for i, data in enumerate(leaves):
        h = merkle.leaf_hash(data)
        nodes[(0, i)] = h
        completed: list[tuple[merkle.Node, bytes]] = []
        tree.append(h, completed)
        nodes.update(completed)
    return nodes


def fetch_from(nodes: Mapping[merkle.Node, bytes]) -> merkle.Fetch:
    return lambda wanted: {n: nodes[n] for n in wanted}


def reference_root(leaves: list[bytes]) -> bytes:
    """MTH straight from RFC 9162 2.1.1, recursively."""
    if not leaves:
        return merkle.EMPTY_ROOT
    if len(leaves) == 1:
        return merkle.leaf_hash(leaves[0])
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return merkle.node_hash(reference_root(leaves[:k]), reference_root(leaves[k:]))


def test_roots_of_every_size_match_the_vectors() -> None:
    tree = merkle.CompactRange()
    assert tree.root() == ROOTS[0]
    for size, data in enumerate(LEAVES, 1):
        tree.append(merkle.leaf_hash(data))
        assert tree.root() == ROOTS[size]
        assert merkle.tree_root(size, fetch_from(store(LEAVES[:size]))) == ROOTS[size]


def test_stored_nodes_match_the_vectors() -> None:
    nodes = store(LEAVES)
    assert nodes[(1, 3)].hex() == "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"
    assert nodes[(2, 1)].hex() == "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"
    assert nodes[(3, 0)] == ROOTS[8]


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION)
def test_inclusion_proofs_match_the_vectors(index: int, size: int, path: list[bytes]) -> None:
    got = merkle.prove(merkle.inclusion_ranges(index, size), fetch_from(store(LEAVES[:size])))
    assert got == path
    merkle.verify_inclusion(index, size, merkle.leaf_hash(LEAVES[index]), path, ROOTS[size])


@pytest.mark.parametrize(("first", "second", "path"), CONSISTENCY)
def test_consistency_proofs_match_the_vectors(first: int, second: int,
                                              path: list[bytes]) -> None:
    got = merkle.prove(merkle.consistency_ranges(first, second),
                       fetch_from(store(LEAVES[:second])))
    assert got == path
    merkle.verify_consistency(first, second, path, ROOTS[first], ROOTS[second])


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION)
def test_a_tampered_inclusion_proof_fails(index: int, size: int, path: list[bytes]) -> None:
    leaf = merkle.leaf_hash(LEAVES[index])
    bad = [bytes([path[0][0] ^ 8]) + path[0][1:], *path[1:]]
    for args in ((index, size, leaf, bad, ROOTS[size]), (index, size, leaf, path[:-1], ROOTS[size]),
                 (index, size, leaf, [*path, ROOTS[size]], ROOTS[size]),
                 (index ^ 1, size, leaf, path, ROOTS[size]),
                 (index, size, merkle.leaf_hash(b"x"), path, ROOTS[size])):
        with pytest.raises(merkle.ProofError):
            merkle.verify_inclusion(*args)


@pytest.mark.parametrize(("first", "second", "path"), CONSISTENCY)
def test_a_tampered_consistency_proof_fails(first: int, second: int, path: list[bytes]) -> None:
    for args in ((first, second, path, ROOTS[second], ROOTS[second]),
                 (first, second, path[:-1], ROOTS[first], ROOTS[second]),
                 (first, second, [], ROOTS[first], ROOTS[second]),
                 (first, second, [bytes(32), *path[1:]], ROOTS[first], ROOTS[second]),
                 (second, first, path, ROOTS[second], ROOTS[first])):
        with pytest.raises(merkle.ProofError):
            merkle.verify_consistency(*args)


def test_a_compact_range_restores_from_its_size_and_hashes() -> None:
    tree = merkle.CompactRange()
    for data in LEAVES[:7]:
        tree.append(merkle.leaf_hash(data))
    again = merkle.CompactRange(tree.size, tree.hashes)
    again.append(merkle.leaf_hash(LEAVES[7]))
    assert again.root() == ROOTS[8]
    with pytest.raises(ValueError):
        merkle.CompactRange(5, tree.hashes[:1])


leaves_st = st.lists(st.binary(max_size=8), min_size=1, max_size=200)


@given(leaves_st, st.data())
def test_every_inclusion_proof_verifies(leaves: list[bytes], data: st.DataObject) -> None:
    size = len(leaves)
    index = data.draw(st.integers(0, size - 1))
    root = reference_root(leaves)
    path = merkle.prove(merkle.inclusion_ranges(index, size), fetch_from(store(leaves)))
    merkle.verify_inclusion(index, size, merkle.leaf_hash(leaves[index]), path, root)
    assert len(path) <= size.bit_length()


@given(leaves_st, st.data())
def test_every_consistency_proof_verifies(leaves: list[bytes], data: st.DataObject) -> None:
    second = len(leaves)
    first = data.draw(st.integers(0, second))
    path = merkle.prove(merkle.consistency_ranges(first, second), fetch_from(store(leaves)))
    merkle.verify_consistency(first, second, path, reference_root(leaves[:first]),
                              reference_root(leaves))


@given(leaves_st, st.data())
def test_a_rewritten_history_fails_consistency(leaves: list[bytes], data: st.DataObject) -> None:
    second = len(leaves)
    if second < 2:
        return
    first = data.draw(st.integers(1, second - 1))
    changed = data.draw(st.integers(0, first - 1))
    rewritten = list(leaves)
    rewritten[changed] = rewritten[changed] + b"!"
    path = merkle.prove(merkle.consistency_ranges(first, second), fetch_from(store(rewritten)))
    with pytest.raises(merkle.ProofError):
        merkle.verify_consistency(first, second, path, reference_root(leaves[:first]),
                                  reference_root(rewritten))
