"""RFC 9162 Merkle tree hashing, proofs and their verification: plain Python.

Nodes are addressed as perfect subtrees: (level, index) covers leaves
[index * 2**level, (index + 1) * 2**level). The ledger stores every such node
once it is complete, so the hash of any range a proof needs is a fold of at
most log2(n) stored nodes: a proof costs O(log n) reads, never a rebuild.

Written here, not taken from a library: proofs fold nodes the ledger keeps in its own
tables (a ``Fetch``: one call for all the nodes a proof needs), where the Python Merkle
libraries keep their tree in memory or in a store of their own. tests/unit/test_merkle.py
checks it against the published RFC 6962 test vectors of transparency-dev/merkle.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable, Iterable, Mapping

Range = tuple[int, int]
Node = tuple[int, int]

EMPTY_ROOT = hashlib.sha256(b"").digest()


class ProofError(ValueError):
    """A proof does not verify; the message says what failed."""


def tree_head_bytes(size: int, timestamp_ms: int, root: bytes) -> bytes:
    """What a log signs of a tree head: RFC 6962's TreeHeadSignature (version 0, type 1
    tree hash, the time in milliseconds, the size, the root), integers big-endian."""
    return struct.pack(">BBQQ", 0, 1, timestamp_ms, size) + root


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


# -- building -----------------------------------------------------------------------------


class CompactRange:
    """The right edge of a tree: the perfect subtrees that make up its first n leaves.

    Appending a leaf merges equal subtrees, like carrying in binary addition; each
    merge completes a node, which ``completed`` reports so that it can be stored.
    """

    def __init__(self, size: int = 0, hashes: Iterable[bytes] = ()) -> None:
        self.size = size
        self.hashes = list(hashes)
        levels = [level for level in range(size.bit_length() - 1, -1, -1) if size >> level & 1]
        if len(levels) != len(self.hashes):
            raise ValueError("a compact range holds one hash per set bit of its size")
        self.levels = levels

    def append(self, hash_: bytes, completed: list[tuple[Node, bytes]] | None = None) -> None:
        index = self.size
        self.hashes.append(hash_)
        self.levels.append(0)
        self.size += 1
        while len(self.levels) > 1 and self.levels[-1] == self.levels[-2]:
            right, left = self.hashes.pop(), self.hashes.pop()
            self.levels.pop()
            self.levels[-1] += 1
            level = self.levels[-1]
            parent = node_hash(left, right)
            self.hashes.append(parent)
            if completed is not None:
                completed.append(((level, index >> level), parent))

    def root(self) -> bytes:
        if not self.hashes:
            return EMPTY_ROOT
        root = self.hashes[-1]
        for left in reversed(self.hashes[:-1]):
            root = node_hash(left, root)
        return root


def root_of_perfect(hashes: list[bytes]) -> bytes:
    """The root of a perfect subtree, from its hashes at one level (a power of two)."""
    while len(hashes) > 1:
        hashes = [node_hash(hashes[i], hashes[i + 1]) for i in range(0, len(hashes), 2)]
    return hashes[0]


def root_of(leaf_hashes: Iterable[bytes]) -> bytes:
    tree = CompactRange()
    for h in leaf_hashes:
        tree.append(h)
    return tree.root()


# -- ranges, and the nodes they are made of ---------------------------------------------


def blocks(start: int, end: int) -> list[Node]:
    """The perfect subtrees, left to right, whose right fold is MTH(leaves[start:end]).

    Holds for the ranges RFC 9162 builds proofs from: [0, n), and the halves its
    recursion makes, each starting at a multiple of a power of two >= its length.
    """
    found: list[Node] = []
    while start < end:
        level = (end - start).bit_length() - 1
        while start % (1 << level):
            level -= 1
        found.append((level, start >> level))
        start += 1 << level
    return found


def range_hash(start: int, end: int, nodes: Mapping[Node, bytes]) -> bytes:
    parts = [nodes[b] for b in blocks(start, end)]
    result = parts[-1]
    for left in reversed(parts[:-1]):
        result = node_hash(left, result)
    return result


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """The ranges whose hashes form the inclusion path of leaf ``index`` (RFC 9162 2.1.3.1)."""

    def path(start: int, end: int) -> list[Range]:
        if end - start == 1:
            return []
        k = _split(end - start)
        if index < start + k:
            return path(start, start + k) + [(start + k, end)]
        return path(start + k, end) + [(start, start + k)]

    return path(0, size)


def consistency_ranges(first: int, second: int) -> list[Range]:
    """The ranges whose hashes form the consistency proof first -> second (RFC 9162 2.1.4.1)."""

    def subproof(start: int, end: int, whole: bool) -> list[Range]:
        if first - start == end - start:
            return [] if whole else [(start, end)]
        k = _split(end - start)
        if first - start <= k:
            return subproof(start, start + k, whole) + [(start + k, end)]
        return subproof(start + k, end, False) + [(start, start + k)]

    if first == 0 or first == second:
        return []
    return subproof(0, second, True)


def needed(ranges: Iterable[Range]) -> set[Node]:
    return {node for r in ranges for node in blocks(*r)}


Fetch = Callable[[set[Node]], Mapping[Node, bytes]]


def prove(ranges: list[Range], fetch: Fetch) -> list[bytes]:
    nodes = fetch(needed(ranges))
    return [range_hash(start, end, nodes) for start, end in ranges]


def tree_root(size: int, fetch: Fetch) -> bytes:
    return EMPTY_ROOT if size == 0 else prove([(0, size)], fetch)[0]


# -- verifying ----------------------------------------------------------------------------


def verify_inclusion(index: int, size: int, leaf: bytes, path: list[bytes],
                     root: bytes) -> None:
    """RFC 9162 2.1.3.2; raises ProofError when the proof fails."""
    if index >= size:
        raise ProofError(f"leaf index {index} is beyond tree size {size}")
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            raise ProofError("the inclusion path is longer than the tree is tall")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the inclusion path is shorter than the tree is tall")
    if r != root:
        raise ProofError("the inclusion path does not lead to the root")


def verify_consistency(first: int, second: int, path: list[bytes], first_root: bytes,
                       second_root: bytes) -> None:
    """RFC 9162 2.1.4.2; raises ProofError when the proof fails."""
    if first > second:
        raise ProofError(f"the first tree ({first}) is larger than the second ({second})")
    if first == second:
        if path:
            raise ProofError("a proof between equal sizes must be empty")
        if first_root != second_root:
            raise ProofError("the same size has two different roots")
        return
    if first == 0:
        if path:
            raise ProofError("a proof from the empty tree must be empty")
        return
    if not path:
        raise ProofError("the consistency proof is empty")
    if first & (first - 1) == 0:
        path = [first_root, *path]
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("the consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the consistency proof is too short")
    if fr != first_root:
        raise ProofError("the proof does not lead to the first root: history was rewritten")
    if sr != second_root:
        raise ProofError("the proof does not lead to the second root")
