"""The independent C2SP verifier (tests/support/c2sp.py) against published test vectors.

Where each vector comes from is said next to it. Sources:

* C2SP/C2SP: signed-note.md, tlog-checkpoint.md, tlog-cosignature.md, tlog-tiles.md,
  tlog-witness.md, tlog-proof.md (the specifications' own examples);
* golang/mod: sumdb/note/note_test.go and sumdb/tlog/note_test.go;
* transparency-dev/merkle: testonly/constants.go, cmd/proofgen/main.go and
  rfc6962/rfc6962_test.go (the RFC 6962 test tree of 8 leaves).

Trees beyond those are built here from the RFC 6962 definitions, with their own code, and
served as tiles from a dict.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from collections.abc import Callable
from dataclasses import replace
from functools import cache
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support import c2sp
from tests.support.c2sp import VerificationError

B64 = base64.b64decode
H = bytes.fromhex

# --------------------------------------------------------------------------------------
# Vectors
# --------------------------------------------------------------------------------------

# golang/mod sumdb/note/note_test.go: TestNewVerifier, TestSign, TestVerifierList, TestOpen.
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
GO_TEXT = ("If you think cryptography is the answer to your problem,\n"
           "then you don't know what your problem is.\n")
PETER_SIG = ("— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqf"
             "qdngotpRZb6KE6RyyBwJnAM=\n")
ENOCH_SIG = ("— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOT"
             "GwnWLox33WWd1RvMc+QQ=\n")
# TestNewVerifier: "wrong length key, with adjusted key hash" and "unknown algorithm, with
# adjusted key hash".
GO_BAD_VKEYS = [
    "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
    "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
]

# C2SP signed-note.md, "Example".
FOO_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
FOO_NOTE = ("This is an example message.\n"
            "\n"
            "— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYj"
            "OBH3mFXmRKuwHjG1Yu72IneyaQM=\n")

# C2SP tlog-checkpoint.md and tlog-cosignature.md: the example checkpoint, its log
# signature and a witness cosignature. No public keys are published for them.
SOFA_BODY = ("example.com/behind-the-sofa\n"
             "20852163\n"
             "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n")
SOFA_LOG_SIG = ("— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4"
                "URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n")
SOFA_WITNESS_SIG = ("— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OW"
                    "XEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n")
# tlog-cosignature.md, "Ed25519 signed message": the message that cosignature signs.
SOFA_COSIGNED_MESSAGE = ("cosignature/v1\n"
                         "time 1679315147\n"
                         "example.com/behind-the-sofa\n"
                         "20852163\n"
                         "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n")

# C2SP tlog-witness.md, add-checkpoint "Example request body" (its indentation removed).
WITNESS_REQUEST = (
    "old 20852014\n"
    "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n"
    "jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=\n"
    "5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=\n"
    "/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=\n"
    "\n"
    "example.com/behind-the-sofa\n"
    "20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    "\n"
    "— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Z"
    "hcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
    "— example.com/behind-the-sofa opLqBQsREYCgu6xQkYQwJr9fo45a62DN9EdmHXnZdXNqlcVGlCum2Wks+4"
    "9/V6267UEjw6QUXTS5Rovnzv++qbSzm9Q=\n"
)
# tlog-witness.md, add-checkpoint "Example response body".
WITNESS_RESPONSE = (
    "— witness.example/w1 CMp+6LWBU0anHGH5aNDTJkH/gj79sG+T6+iP2ThYN5krrDJbR1HDnucjL39QsZTSvVj"
    "yQLrdk3DXDqI5G2HgLatVs0pWh6Up69HVOw==\n"
    "— witness.example/w1 I7rEps0pvK2UqkS2gSpVUDhrhVtQV9lgF6pRrWAvjJHjyWpW7VcE3SiOlVlbQNt64vW"
    "hO+DlkL0+UfzuOBMh9ChdMkP1vi/lCAsmlw==\n"
    "— witness.example/w2 AWui8Sk55XjYLOijihBjhqEH6nS1ndDymE0a+6idX7pLcnoB+dhnz0854aLZgrrKbYK"
    "A7nC3HNJhm/kWl7oJlqU3rXXvpysAdyP3wQ==\n"
)

# C2SP tlog-proof.md: the example's lines before its checkpoint, and the checkpoint, whose
# signatures the document elides with "[...]".
TLOG_PROOF_HEAD = (
    "c2sp.org/tlog-proof@v1\n"
    "extra YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6kYXJ3aW4tYXJ\n"
    "index 73894\n"
    "gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=\n"
    "B95lDa8R83lS8n0eG+o0buTxRKQTYFi//1U8anccXmA=\n"
    "EKNzoDWG8LGC0Yp9o+sv3qllpMP9uHQ9B20KNL+Q1zs=\n"
    "RoopEkOdqkYqMB4MJXrbt/hMjOxsVn0IrWjpz1ZMMes=\n"
    "AHCioX9nLjsrse6YhjRRmk1WUEirVOLLRoOQ6vfO5vk=\n"
    "\n"
)
TLOG_PROOF_CHECKPOINT = (
    "example.com/fancylog\n"
    "109482\n"
    "sFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=\n"
    "\n"
    "— example.com/fancylog hI2DJw[...]1roloI=\n"
    "— witness1.example mJirIklj[...]qY9v2B/5bg==\n"
    "— witness2.example TnKKVHLX[...]xwYwrSjgow==\n"
    "— witness3.example S4X82uH5[...]3oEcROGLFQ==\n"
)

# golang/mod sumdb/tlog/note_test.go, TestFormatTree and TestParseTree: RecordHash("hello
# world") in a tree note, and two trees it must refuse.
GO_TREE = ("go.sum database tree\n"
           "123456789012\n"
           "TszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0=\n")
GO_BAD_TREES = [
    "go.sum database tree\n0xabcdef\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0=\n",
    "go.sum database tree\n123456789012\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBTOOBIG=\n",
]

# transparency-dev/merkle testonly/constants.go: LeafInputs and RootHashes (by tree size).
RFC6962_LEAVES = [H(x) for x in ("", "00", "10", "2021", "3031", "40414243",
                                 "5051525354555657", "606162636465666768696a6b6c6d6e6f")]
RFC6962_ROOTS = [H(x) for x in (
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
# transparency-dev/merkle cmd/proofgen/main.go: inclusionProofs (leafIdx counts from 1
# there, from 0 here) and consistencyProofs.
RFC6962_INCLUSION = [
    (0, 1, []),
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
RFC6962_CONSISTENCY = [
    (1, 1, []),
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
# transparency-dev/merkle cmd/proofgen/main.go: sha256SomeHash, a hash of no tree.
SOME_HASH = H("abacaba000000000000000000000000000000000000000000060061e00123456")


# --------------------------------------------------------------------------------------
# Helpers: fresh keys, and an in-memory RFC 6962 tree written here from the definitions
# --------------------------------------------------------------------------------------


def _raw_public(private_key: Ed25519PrivateKey) -> bytes:
    return private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def fresh_key(name: str, type_byte: int = c2sp.TYPE_ED25519) -> tuple[Ed25519PrivateKey,
                                                                       c2sp.Verifier]:
    private_key = Ed25519PrivateKey.generate()
    vkey = c2sp.format_vkey(name, type_byte, _raw_public(private_key))
    return private_key, c2sp.parse_vkey(vkey)


def signed_checkpoint(body: str, log: Ed25519PrivateKey, log_name: str,
                      witnesses: tuple[tuple[Ed25519PrivateKey, str], ...] = (),
                      timestamp: int = 1_700_000_000) -> str:
    lines = [c2sp.note_signature_line(body, log_name, log)]
    lines += [c2sp.cosignature_line(body, name, key, timestamp) for key, name in witnesses]
    return body + "\n" + "".join(lines)


def checkpoint_body(origin: str, size: int, root: bytes) -> str:
    return f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n"


def rfc_leaf(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def rfc_node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def largest_power_of_two_below(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def index_path(n: int) -> str:
    """The tlog-tiles index path, spelt out digit by digit."""
    digits = str(n)
    digits = "0" * (-len(digits) % 3) + digits
    groups = [digits[i:i + 3] for i in range(0, len(digits), 3)]
    return "/".join(["x" + group for group in groups[:-1]] + groups[-1:])


class Tree:
    """Entries, and the hash of every complete aligned subtree, level by level."""

    def __init__(self, entries: list[bytes]) -> None:
        self.entries = entries
        self.complete = [[rfc_leaf(entry) for entry in entries]]
        while len(self.complete[-1]) > 1:
            below = self.complete[-1]
            self.complete.append([rfc_node(below[i], below[i + 1])
                                  for i in range(0, len(below) - 1, 2)])

    def mth(self, low: int, high: int) -> bytes:
        """RFC 6962 2.1 MTH(D[low:high]), by its recursive definition."""
        n = high - low
        if n == 0:
            return hashlib.sha256(b"").digest()
        if n & (n - 1) == 0 and low % n == 0:
            return self.complete[n.bit_length() - 1][low // n]
        k = largest_power_of_two_below(n)
        return rfc_node(self.mth(low, low + k), self.mth(low + k, high))

    def path(self, m: int, low: int, high: int) -> list[bytes]:
        """RFC 6962 2.1.1 PATH(m, D[low:high]), m counted from 0 of the whole tree."""
        if high - low == 1:
            return []
        k = largest_power_of_two_below(high - low)
        if m < low + k:
            return self.path(m, low, low + k) + [self.mth(low + k, high)]
        return self.path(m, low + k, high) + [self.mth(low, low + k)]

    def proof(self, m: int, low: int, high: int, whole: bool) -> list[bytes]:
        """RFC 6962 2.1.2 SUBPROOF(m, D[low:high], b), m the old size of the whole tree."""
        if m == high:
            return [] if whole else [self.mth(low, high)]
        k = largest_power_of_two_below(high - low)
        if m <= low + k:
            return self.proof(m, low, low + k, whole) + [self.mth(low + k, high)]
        return self.proof(m, low + k, high, False) + [self.mth(low, low + k)]

    def files(self, size: int, bundles: bool = True) -> dict[str, bytes]:
        """Every tile, and entry bundle, a log of this tree at ``size`` serves (tlog-tiles)."""
        files = {}
        level = 0
        while size >= 256**level:
            hashes = self.complete[8 * level][: size // 256**level]
            for start in range(0, len(hashes), 256):
                chunk = hashes[start:start + 256]
                suffix = "" if len(chunk) == 256 else f".p/{len(chunk)}"
                files[f"tile/{level}/{index_path(start // 256)}{suffix}"] = b"".join(chunk)
            level += 1
        for start in range(0, size if bundles else 0, 256):
            chunk = self.entries[start:min(start + 256, size)]
            suffix = "" if len(chunk) == 256 else f".p/{len(chunk)}"
            files[f"tile/entries/{index_path(start // 256)}{suffix}"] = b"".join(
                struct.pack(">H", len(entry)) + entry for entry in chunk)
        return files


class Server:
    """Serves files from a dict, as a static log would, and records what was fetched."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.fetched: list[str] = []

    def __call__(self, path: str) -> bytes:
        self.fetched.append(path)
        return self.files[path]


BIG = 70_000


@cache
def big_tree() -> Tree:
    return Tree([b"entry %d" % i for i in range(BIG)])


@cache
def served(size: int) -> dict[str, bytes]:
    return big_tree().files(size)


def serve(size: int) -> Server:
    return Server(dict(served(size)))


def rejects(call: Callable[[], object], match: str | None = None) -> None:
    with pytest.raises(VerificationError, match=match):
        call()


def refuses(function: Callable[..., object], *args: Any, match: str | None = None) -> None:
    with pytest.raises(VerificationError, match=match):
        function(*args)


# --------------------------------------------------------------------------------------
# signed-note
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("vkey", "name", "identifier"), [
    (PETER_VKEY, "PeterNeumann", "c74f20a3"),
    (ENOCH_VKEY, "EnochRoot", "af0cfe78"),
    (FOO_VKEY, "example.com/foo", "530d903a"),
])
def test_published_vkeys_parse_and_their_key_ids_recompute(vkey: str, name: str,
                                                           identifier: str) -> None:
    verifier = c2sp.parse_vkey(vkey)
    assert (verifier.name, verifier.key_id.hex(), verifier.type) == (name, identifier, 1)
    assert len(verifier.public_key) == 32
    assert c2sp.key_id(name, 0x01, verifier.public_key) == H(identifier)
    assert verifier.vkey == vkey


def test_every_mangling_of_a_vkey_is_refused() -> None:
    """As golang/mod TestNewVerifier: every proper substring, and every character
    incremented, of Peter's vkey; and its two refused keys with adjusted IDs."""
    manglings = [PETER_VKEY[i:j] for i in range(len(PETER_VKEY) + 1)
                 for j in range(i + 1, len(PETER_VKEY) + 1) if (i, j) != (0, len(PETER_VKEY))]
    manglings += [PETER_VKEY[:i] + chr(ord(PETER_VKEY[i]) + 1) + PETER_VKEY[i + 1:]
                  for i in range(len(PETER_VKEY))]
    for vkey in manglings + GO_BAD_VKEYS:
        refuses(c2sp.parse_vkey, vkey)


def test_a_vkey_whose_base64_holds_a_plus_parses() -> None:
    """Only the name and the ID are free of '+': the base64 after them may hold one."""
    for seed in range(256):
        public_key = _raw_public(Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32))
        vkey = c2sp.format_vkey("example.com/plus", 0x01, public_key)
        if "+" in vkey.split("+", 2)[2]:
            break
    assert "+" in vkey.split("+", 2)[2]
    assert c2sp.parse_vkey(vkey).vkey == vkey


def test_the_go_signer_key_reproduces_peters_signature() -> None:
    """golang/mod TestSign: signing the text with Peter's skey gives exactly his line."""
    _, _, name, identifier, material = PETER_SKEY.split("+", 4)
    seed = B64(material)
    assert seed[0] == 0x01
    private_key = Ed25519PrivateKey.from_private_bytes(seed[1:])
    assert c2sp.key_id(name, 0x01, _raw_public(private_key)).hex() == identifier
    assert c2sp.note_signature_line(GO_TEXT, name, private_key) == PETER_SIG


def test_the_go_note_verifies_by_whichever_keys_are_known() -> None:
    note = GO_TEXT + "\n" + PETER_SIG + ENOCH_SIG
    peter, enoch = c2sp.parse_vkey(PETER_VKEY), c2sp.parse_vkey(ENOCH_VKEY)
    assert c2sp.verify_note(note, [peter, enoch]) == (GO_TEXT, ["PeterNeumann", "EnochRoot"])
    assert c2sp.verify_note(note, [peter]) == (GO_TEXT, ["PeterNeumann"])
    assert c2sp.verify_note(note.encode(), [enoch]) == (GO_TEXT, ["EnochRoot"])
    rejects(lambda: c2sp.verify_note(note, []), "no verified signature")
    _, signatures = c2sp.split_note(note)
    assert [(s.name, s.key_id.hex(), len(s.signature)) for s in signatures] == [
        ("PeterNeumann", "c74f20a3", 64), ("EnochRoot", "af0cfe78", 64)]


def test_the_signed_note_example_verifies() -> None:
    assert c2sp.verify_note(FOO_NOTE, [c2sp.parse_vkey(FOO_VKEY)]) == (
        "This is an example message.\n", ["example.com/foo"])


def _corrupt_at_byte_60(line: str) -> str:
    """golang/mod TestOpen: "ABCD" inserted at byte 60 of a signature line."""
    raw = line.encode()
    return (raw[:60] + b"ABCD" + raw[60:]).decode()


def test_unknown_and_unverifiable_signatures_of_unknown_keys_are_ignored() -> None:
    """golang/mod TestOpen, "Duplicated verified and unverified signatures"."""
    note = (GO_TEXT + "\n" + PETER_SIG + PETER_SIG + ENOCH_SIG + ENOCH_SIG
            + _corrupt_at_byte_60(ENOCH_SIG))
    assert c2sp.verify_note(note, [c2sp.parse_vkey(PETER_VKEY)]) == (GO_TEXT, ["PeterNeumann"])


def test_a_signature_sharing_only_the_name_or_only_the_id_is_not_the_known_keys() -> None:
    peter = c2sp.parse_vkey(PETER_VKEY)
    impostor = replace(peter, key_id=b"\x00\x00\x00\x00")
    renamed = replace(peter, name="PeterNeuman")
    for verifier in (impostor, renamed):
        refuses(c2sp.verify_note, GO_TEXT + "\n" + PETER_SIG, [verifier],
                match="no verified signature")


# golang/mod TestOpen "Invalid encoded message syntax", then the cases this brief adds.
BAD_NOTES = {
    "text alone": GO_TEXT,
    "text and blank line": GO_TEXT + "\n",
    "no final newline": GO_TEXT + "\n" + PETER_SIG[:-1],
    "control character": "\x01" + GO_TEXT + "\n" + PETER_SIG,
    "space in key name": GO_TEXT + "\n" + "— Bad Name " + PETER_SIG.split(" ")[2],
    "line after signatures": GO_TEXT + "\n" + PETER_SIG + "Unexpected line.\n",
    "carriage return": GO_TEXT.replace("\n", "\r\n", 1) + "\n" + PETER_SIG,
    "CRLF after signature": GO_TEXT + "\n" + PETER_SIG[:-1] + "\r\n",
    "hyphen for em dash": GO_TEXT + "\n" + PETER_SIG.replace("—", "-", 1),
    "en dash for em dash": GO_TEXT + "\n" + PETER_SIG.replace("—", "\u2013", 1),
    "no space after dash": GO_TEXT + "\n" + PETER_SIG.replace("— ", "—", 1),
    "unpadded base64": GO_TEXT + "\n" + PETER_SIG.replace("=\n", "\n"),
    "base64 with a bad character": GO_TEXT + "\n" + PETER_SIG.replace("x08go/", "x08go_"),
    "non-canonical base64": GO_TEXT + "\n" + PETER_SIG.replace("AM=\n", "AN=\n"),
    "url-safe base64": GO_TEXT + "\n" + PETER_SIG.replace("/", "_"),
    "plus in key name": GO_TEXT + "\n" + PETER_SIG.replace("PeterNeumann", "Peter+Neumann"),
    "blank line after signatures": GO_TEXT + "\n" + PETER_SIG + "\n",
    "101 signatures": GO_TEXT + "\n" + PETER_SIG * 101,
}


@pytest.mark.parametrize("note", BAD_NOTES.values(), ids=BAD_NOTES.keys())
def test_malformed_notes_are_refused(note: str) -> None:
    rejects(lambda: c2sp.split_note(note))
    rejects(lambda: c2sp.verify_note(note, [c2sp.parse_vkey(PETER_VKEY)]))


def test_invalid_utf8_is_refused() -> None:
    """golang/mod TestOpen: a note starting with byte 0xff."""
    rejects(lambda: c2sp.split_note(b"\xff" + (GO_TEXT + "\n" + PETER_SIG).encode()), "UTF-8")


@pytest.mark.parametrize("note", [
    GO_TEXT.replace("problem,", "problem;") + "\n" + PETER_SIG,
    GO_TEXT + "\n" + _corrupt_at_byte_60(PETER_SIG),
    GO_TEXT + "\n" + c2sp.signature_line("PeterNeumann", H("c74f20a3"),
                                         B64(ENOCH_SIG.split(" ")[2])[4:]),
], ids=["tampered text", "corrupted signature (golang/mod)", "another key's signature"])
def test_a_known_key_whose_signature_fails_rejects_the_note(note: str) -> None:
    rejects(lambda: c2sp.verify_note(note, [c2sp.parse_vkey(PETER_VKEY)]), "fails")


def test_a_failing_known_key_rejects_even_beside_a_good_one() -> None:
    note = GO_TEXT + "\n" + _corrupt_at_byte_60(PETER_SIG) + ENOCH_SIG
    verifiers = [c2sp.parse_vkey(PETER_VKEY), c2sp.parse_vkey(ENOCH_VKEY)]
    rejects(lambda: c2sp.verify_note(note, verifiers), "PeterNeumann")


def test_sixteen_signatures_and_blank_lines_in_the_text_are_accepted() -> None:
    text = "first paragraph\n\nsecond paragraph\n"
    keys = [fresh_key(f"signer{i}.example") for i in range(16)]
    note = text + "\n" + "".join(c2sp.note_signature_line(text, v.name, k) for k, v in keys)
    body, signers = c2sp.verify_note(note, [v for _, v in keys])
    assert body == text
    assert signers == [f"signer{i}.example" for i in range(16)]


def test_two_known_keys_with_one_name_and_id_are_ambiguous() -> None:
    peter = c2sp.parse_vkey(PETER_VKEY)
    twin = replace(peter, public_key=c2sp.parse_vkey(ENOCH_VKEY).public_key)
    rejects(lambda: c2sp.verify_note(GO_TEXT + "\n" + PETER_SIG, [peter, twin]), "ambiguous")
    assert c2sp.verify_note(GO_TEXT + "\n" + PETER_SIG, [peter, peter])[1] == ["PeterNeumann"]


def test_verify_note_takes_ed25519_note_keys_only() -> None:
    _, witness = fresh_key("witness.example", c2sp.TYPE_COSIGNATURE_V1)
    rejects(lambda: c2sp.verify_note(FOO_NOTE, [witness]), "type")


# --------------------------------------------------------------------------------------
# tlog-checkpoint
# --------------------------------------------------------------------------------------


def test_the_go_tree_note_parses_as_a_checkpoint() -> None:
    checkpoint = c2sp.parse_checkpoint(GO_TREE)
    assert (checkpoint.origin, checkpoint.size) == ("go.sum database tree", 123456789012)
    assert checkpoint.root == c2sp.leaf_hash(b"hello world")
    assert (checkpoint.extensions, checkpoint.body) == ((), GO_TREE)


def test_the_checkpoint_example_parses() -> None:
    body, signatures = c2sp.split_note(SOFA_BODY + "\n" + SOFA_LOG_SIG)
    checkpoint = c2sp.parse_checkpoint(body)
    assert (checkpoint.origin, checkpoint.size) == ("example.com/behind-the-sofa", 20852163)
    assert [(s.name, len(s.signature)) for s in signatures] == [
        ("example.com/behind-the-sofa", 64)]


def test_extension_lines_are_kept() -> None:
    checkpoint = c2sp.parse_checkpoint(GO_TREE + "JOE\nsecond extension\n")
    assert checkpoint.extensions == ("JOE", "second extension")


BAD_CHECKPOINTS = {
    "hex size (golang/mod)": GO_BAD_TREES[0],
    "long root (golang/mod)": GO_BAD_TREES[1],
    "no final newline": GO_TREE + "JOE",
    "two lines": "go.sum database tree\n123456789012\n",
    "leading zero": GO_TREE.replace("123456789012", "0123456789012"),
    "signed size": GO_TREE.replace("123456789012", "+123456789012"),
    "spaced size": GO_TREE.replace("123456789012", "123456789012 "),
    "non-ASCII digits": GO_TREE.replace("123456789012", "\u0661\u0662"),
    "empty origin": GO_TREE.replace("go.sum database tree", ""),
    "empty extension line": GO_TREE + "\nJOE\n",
    "trailing empty line": GO_TREE + "\n",
    "31-byte root": checkpoint_body("o", 5, bytes(31)),
    "root without padding": GO_TREE.replace("Bb0=", "Bb0"),
    "size 0 with another root": checkpoint_body("o", 0, bytes(32)),
    "carriage return": GO_TREE.replace("\n", "\r\n"),
}


@pytest.mark.parametrize("body", BAD_CHECKPOINTS.values(), ids=BAD_CHECKPOINTS.keys())
def test_malformed_checkpoints_are_refused(body: str) -> None:
    rejects(lambda: c2sp.parse_checkpoint(body))


def test_an_empty_tree_checkpoint_has_the_empty_root() -> None:
    checkpoint = c2sp.parse_checkpoint(checkpoint_body("o", 0, hashlib.sha256().digest()))
    assert (checkpoint.size, checkpoint.root) == (0, c2sp.EMPTY_ROOT)


def test_open_checkpoint_checks_the_log_signature_and_exposes_the_origin() -> None:
    key, log = fresh_key("keys.example/log-key")
    body = checkpoint_body("log.example/ladder", 3, SOME_HASH)
    checkpoint = c2sp.open_checkpoint(signed_checkpoint(body, key, log.name), log)
    # tlog-checkpoint: the key name SHOULD match the origin; a different one is not refused.
    assert (checkpoint.origin, checkpoint.size, checkpoint.root) == (
        "log.example/ladder", 3, SOME_HASH)
    _, other = fresh_key("keys.example/log-key")
    rejects(lambda: c2sp.open_checkpoint(signed_checkpoint(body, key, log.name), other))
    tampered = signed_checkpoint(body, key, log.name).replace("\n3\n", "\n4\n")
    rejects(lambda: c2sp.open_checkpoint(tampered, log), "fails")


# --------------------------------------------------------------------------------------
# tlog-cosignature
# --------------------------------------------------------------------------------------


def test_the_cosignature_example_has_the_v1_layout_and_message() -> None:
    """The example's witness line decodes to key ID, the timestamp its message shows, and a
    64-byte signature; the message built for that timestamp is the one printed."""
    body, signatures = c2sp.split_note(SOFA_BODY + "\n" + SOFA_LOG_SIG + SOFA_WITNESS_SIG)
    witness = signatures[1]
    assert (witness.name, witness.key_id.hex()) == ("witness.example.com/w1", "8d66cf3f")
    assert 4 + len(witness.signature) == 76
    timestamp, signature = c2sp.parse_cosignature(witness)
    assert (timestamp, len(signature)) == (1679315147, 64)
    assert c2sp.cosignature_message(body, timestamp) == SOFA_COSIGNED_MESSAGE.encode()


def test_the_witness_response_example_holds_76_byte_cosignatures() -> None:
    signatures = c2sp.parse_signature_lines(WITNESS_RESPONSE)
    assert [s.name for s in signatures] == ["witness.example/w1"] * 2 + ["witness.example/w2"]
    assert {4 + len(s.signature) for s in signatures} == {76}


def _cosigned(timestamp: int = 1_700_000_000) -> tuple[str, str, c2sp.Verifier,
                                                       Ed25519PrivateKey]:
    log_key, log = fresh_key("log.example/ladder")
    witness_key, witness = fresh_key("witness.example/w1", c2sp.TYPE_COSIGNATURE_V1)
    body = checkpoint_body("log.example/ladder", 42, SOME_HASH) + "extension\n"
    note = signed_checkpoint(body, log_key, log.name, ((witness_key, witness.name),), timestamp)
    return body, note, witness, witness_key


def test_a_fresh_cosignature_verifies_and_returns_its_timestamp() -> None:
    _, note, witness, _ = _cosigned(1_700_000_123)
    assert c2sp.verify_cosignature(note, witness) == 1_700_000_123
    assert c2sp.count_cosignatures(note, [witness]) == ["witness.example/w1"]
    line = note.splitlines()[-1]
    assert len(B64(line.split(" ")[2])) == 76


def test_a_cosignature_over_a_tampered_body_fails() -> None:
    _, note, witness, _ = _cosigned()
    for tampered in (note.replace("\n42\n", "\n43\n"), note.replace("extension", "extension!")):
        refuses(c2sp.verify_cosignature, tampered, witness, match="fails")
        refuses(c2sp.count_cosignatures, tampered, [witness], match="fails")


def test_a_cosignature_with_a_changed_timestamp_fails() -> None:
    body, note, witness, _ = _cosigned()
    raw = B64(note.splitlines()[-1].split(" ")[2])
    moved = raw[:4] + struct.pack(">Q", 1_700_000_001) + raw[12:]
    line = c2sp.signature_line(witness.name, moved[:4], moved[4:])
    rejects(lambda: c2sp.verify_cosignature(body + "\n" + line, witness), "fails")


def test_a_cosignature_checked_with_another_key_fails() -> None:
    _, note, witness, _ = _cosigned()
    _, stranger = fresh_key(witness.name, c2sp.TYPE_COSIGNATURE_V1)
    rejects(lambda: c2sp.verify_cosignature(note, stranger), "no cosignature")
    assert c2sp.count_cosignatures(note, [stranger]) == []
    same_id = replace(stranger, key_id=witness.key_id)
    rejects(lambda: c2sp.verify_cosignature(note, same_id), "fails")


def test_cosignatures_need_type_4_keys_and_note_signatures_are_not_cosignatures() -> None:
    key, note_key = fresh_key("witness.example/w1")
    body = checkpoint_body("log.example/ladder", 1, SOME_HASH)
    note = body + "\n" + c2sp.note_signature_line(body, note_key.name, key)
    rejects(lambda: c2sp.verify_cosignature(note, note_key), "type")
    as_witness = c2sp.parse_vkey(c2sp.format_vkey(note_key.name, 0x04, note_key.public_key))
    assert as_witness.key_id != note_key.key_id
    rejects(lambda: c2sp.verify_cosignature(note, as_witness), "no cosignature")


def test_a_cosignature_of_the_wrong_length_is_refused() -> None:
    body, _, witness, witness_key = _cosigned()
    short = c2sp.signature_line(witness.name, witness.key_id, witness_key.sign(b"x"))
    rejects(lambda: c2sp.verify_cosignature(body + "\n" + short, witness), "76")


# --------------------------------------------------------------------------------------
# tlog-tiles: paths and tile sets
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "path"), [
    (1234067, "x001/x234/067"), (1000, "x001/000"), (0, "000"),  # tlog-tiles' examples
    (999, "999"), (1_000_000, "x001/x000/000"), (273, "273"),
])
def test_tile_index_paths(n: int, path: str) -> None:
    assert c2sp.tile_index_path(n) == path == index_path(n)


def test_tile_and_entry_paths() -> None:
    assert c2sp.tile_path(0, 1234, 17) == "tile/0/x001/234.p/17"
    assert c2sp.tile_path(1, 1234067) == c2sp.tile_path(1, 1234067, 256)
    assert c2sp.tile_path(1, 1234067) == "tile/1/x001/x234/067"
    assert c2sp.tile_path(63, 0, 1) == "tile/63/000.p/1"
    assert c2sp.entries_path(1000, 5) == "tile/entries/x001/000.p/5"
    assert c2sp.entries_path(7) == "tile/entries/007"
    for bad in ((0, 0, 0), (0, 0, 257), (64, 0, None), (-1, 0, None), (0, -1, None)):
        with pytest.raises(ValueError):
            c2sp.tile_path(*bad)


def test_the_tiles_of_size_70000_are_those_the_spec_lists() -> None:
    tiles = c2sp.tiles_for_size(70_000)
    level0 = [t for t in tiles if t[0] == 0]
    assert level0[:-1] == [(0, n, 256) for n in range(273)] and level0[-1] == (0, 273, 112)
    assert [t for t in tiles if t[0] == 1] == [(1, 0, 256), (1, 1, 17)]
    assert [t for t in tiles if t[0] == 2] == [(2, 0, 1)]
    assert len(tiles) == 273 + 1 + 1 + 1 + 1


def test_small_tile_sets() -> None:
    assert c2sp.tiles_for_size(0) == []
    assert c2sp.tiles_for_size(1) == [(0, 0, 1)]
    # tlog-tiles: size 256 is a full level-0 tile and a level-1 tile of width 1.
    assert c2sp.tiles_for_size(256) == [(0, 0, 256), (1, 0, 1)]
    assert c2sp.tiles_for_size(257) == [(0, 0, 256), (0, 1, 1), (1, 0, 1)]


@given(st.integers(0, 2**18))
def test_tile_sets_match_what_a_log_serves(size: int) -> None:
    tiles = c2sp.tiles_for_size(size)
    for level, index, width in tiles:
        assert 1 <= width <= 256
        assert index * 256 + width <= size >> (8 * level)
    assert sum(width for level, _, width in tiles if level == 0) == size


def test_hash_tiles_and_entry_bundles_parse_strictly() -> None:
    assert c2sp.parse_hash_tile(bytes(64), 2) == [bytes(32)] * 2
    for data, width in ((bytes(63), 2), (bytes(96), 2), (b"", 1), (bytes(32), 0)):
        refuses(c2sp.parse_hash_tile, data, width)
    bundle = b"\x00\x03abc\x00\x00\x00\x01z"
    assert c2sp.parse_entry_bundle(bundle) == [b"abc", b"", b"z"]
    assert c2sp.parse_entry_bundle(bundle, 3) == [b"abc", b"", b"z"]
    for bad in (b"", b"\x00", b"\x00\x04abc", bundle + b"\x00", b"\x00\x00" * 257):
        refuses(c2sp.parse_entry_bundle, bad)
    rejects(lambda: c2sp.parse_entry_bundle(bundle, 4))


# --------------------------------------------------------------------------------------
# RFC 6962 hashing and proofs
# --------------------------------------------------------------------------------------


def test_hash_vectors() -> None:
    # golang/mod sumdb/tlog/note_test.go: RecordHash("hello world").
    assert c2sp.leaf_hash(b"hello world") == B64("TszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0=")
    # transparency-dev/merkle rfc6962/rfc6962_test.go, TestRFC6962Hasher.
    empty = H("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    assert empty == c2sp.EMPTY_ROOT
    assert c2sp.leaf_hash(b"") == H(
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d")
    assert c2sp.leaf_hash(b"L123456") == H(
        "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56")
    assert c2sp.node_hash(b"N123", b"N456") == H(
        "aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb")


def test_the_rfc6962_test_tree_from_tiles() -> None:
    tree = Tree(RFC6962_LEAVES)
    for size, root in enumerate(RFC6962_ROOTS):
        assert tree.mth(0, size) == root
        assert c2sp.root_from_tiles(size, Server(tree.files(size))) == root
    for index, size, path in RFC6962_INCLUSION:
        assert c2sp.inclusion_proof_from_tiles(index, size, Server(tree.files(size))) == path
    for old, new, proof in RFC6962_CONSISTENCY:
        assert c2sp.consistency_proof_from_tiles(old, new, Server(tree.files(new))) == proof


@pytest.mark.parametrize(("index", "size", "path"), RFC6962_INCLUSION)
def test_rfc6962_inclusion_vectors(index: int, size: int, path: list[bytes]) -> None:
    leaf, root = c2sp.leaf_hash(RFC6962_LEAVES[index]), RFC6962_ROOTS[size]
    c2sp.verify_inclusion(index, size, leaf, path, root)
    # The kinds of corruption transparency-dev/merkle's proofgen derives from each vector.
    corrupt = [
        (index - 1, size, leaf, path, root), (index + 1, size, leaf, path, root),
        (index ^ 2, size, leaf, path, root), (index, size * 2, leaf, path, root),
        (index, size // 2, leaf, path, root), (index, size, SOME_HASH, path, root),
        (index, size, leaf, path, c2sp.EMPTY_ROOT), (index, size, leaf, path, SOME_HASH),
        (index, size, leaf, [*path, b""], root), (index, size, leaf, [*path, root], root),
        (index, size, leaf, [b"", *path], root), (index, size, leaf, [root, *path], root),
    ]
    corrupt += [(index, size, leaf, [*path[:i], flip(path[i]), *path[i + 1:]], root)
                for i in range(len(path))]
    if path:
        corrupt.append((index, size, leaf, path[:-1], root))
    if len(path) > 1:
        corrupt.append((index, size, leaf, [path[0], SOME_HASH, *path[1:]], root))
    for case in corrupt:
        refuses(c2sp.verify_inclusion, *case)


def flip(value: bytes) -> bytes:
    return bytes([value[0] ^ 8]) + value[1:]


@pytest.mark.parametrize(("old", "new", "proof"), RFC6962_CONSISTENCY)
def test_rfc6962_consistency_vectors(old: int, new: int, proof: list[bytes]) -> None:
    old_root, new_root = RFC6962_ROOTS[old], RFC6962_ROOTS[new]
    c2sp.verify_consistency(old, new, proof, old_root, new_root)
    if not proof:
        return
    corrupt = [
        (old - 1, new, proof, old_root, new_root), (old + 1, new, proof, old_root, new_root),
        (old ^ 2, new, proof, old_root, new_root), (old, new * 2, proof, old_root, new_root),
        (old, new // 2, proof, old_root, new_root), (old, new, proof, SOME_HASH, new_root),
        (old, new, proof, old_root, SOME_HASH), (old, new, proof, new_root, old_root),
        (old, new, [], old_root, new_root), (old, new, [*proof, b""], old_root, new_root),
        (old, new, [*proof, old_root], old_root, new_root),
        (old, new, [*proof, new_root], old_root, new_root),
        (old, new, [b"", *proof], old_root, new_root),
        (old, new, [old_root, *proof], old_root, new_root),
        (old, new, [new_root, *proof], old_root, new_root),
        (old, new, [proof[0], *proof], old_root, new_root),
        (old, new, proof[:-1], old_root, new_root),
    ]
    corrupt += [(old, new, [*proof[:i], flip(proof[i]), *proof[i + 1:]], old_root, new_root)
                for i in range(len(proof))]
    for case in corrupt:
        refuses(c2sp.verify_consistency, *case)


def test_consistency_edge_cases() -> None:
    root5 = RFC6962_ROOTS[5]
    c2sp.verify_consistency(5, 5, [], root5, root5)
    c2sp.verify_consistency(0, 0, [], c2sp.EMPTY_ROOT, c2sp.EMPTY_ROOT)
    # tlog-witness: from size 0 the proof MUST be empty, the empty tree being consistent
    # with every tree. (transparency-dev/merkle's VerifyConsistency refuses size1 = 0.)
    c2sp.verify_consistency(0, 5, [], c2sp.EMPTY_ROOT, root5)
    rejects(lambda: c2sp.verify_consistency(0, 5, [c2sp.EMPTY_ROOT], c2sp.EMPTY_ROOT, root5))
    rejects(lambda: c2sp.verify_consistency(0, 5, [], SOME_HASH, root5))
    rejects(lambda: c2sp.verify_consistency(5, 5, [], root5, SOME_HASH))
    rejects(lambda: c2sp.verify_consistency(5, 5, [root5], root5, root5))
    rejects(lambda: c2sp.verify_consistency(6, 5, [], root5, root5))
    rejects(lambda: c2sp.verify_consistency(1, 2, [], RFC6962_ROOTS[1], RFC6962_ROOTS[2]))


def test_single_entry_inclusion() -> None:
    """transparency-dev/merkle proofgen's single-entry probes: leaf hash = root, empty path."""
    value = c2sp.leaf_hash(b"data")
    c2sp.verify_inclusion(0, 1, value, [], value)
    for leaf, root in ((value, b""), (b"", value), (b"", b"")):
        refuses(c2sp.verify_inclusion, 0, 1, leaf, [], root)
    for index, size in ((0, 0), (1, 0), (2, 1)):
        refuses(c2sp.verify_inclusion, index, size, SOME_HASH, [], c2sp.EMPTY_ROOT)


# --------------------------------------------------------------------------------------
# tlog-tiles: roots and proofs from served tiles
# --------------------------------------------------------------------------------------

SIZES = [0, 1, 2, 3, 255, 256, 257, 511, 512, 65_535, 65_536, 65_536 + 3, BIG]


@pytest.mark.parametrize("size", SIZES)
def test_roots_from_tiles(size: int) -> None:
    server = serve(size)
    assert c2sp.root_from_tiles(size, server) == big_tree().mth(0, size)
    assert len(server.fetched) == len(set(server.fetched))
    allowed = {c2sp.tile_path(*tile) for tile in c2sp.tiles_for_size(size)}
    assert set(server.fetched) <= allowed
    assert allowed == {path for path in served(size) if not path.startswith("tile/entries/")}


def test_the_root_of_70000_needs_three_tiles() -> None:
    server = serve(BIG)
    c2sp.root_from_tiles(BIG, server)
    assert sorted(server.fetched) == ["tile/0/273.p/112", "tile/1/001.p/17", "tile/2/000.p/1"]


@pytest.mark.parametrize("size", SIZES[1:])
def test_inclusion_proofs_from_tiles(size: int) -> None:
    tree, root = big_tree(), big_tree().mth(0, size)
    for index in sorted({0, 1, size // 2, size - 2, size - 1} & set(range(size))):
        path = c2sp.inclusion_proof_from_tiles(index, size, serve(size))
        assert path == tree.path(index, 0, size)
        c2sp.verify_inclusion(index, size, rfc_leaf(tree.entries[index]), path, root)


@pytest.mark.parametrize("new", SIZES)
def test_consistency_proofs_from_tiles(new: int) -> None:
    tree = big_tree()
    for old in [size for size in SIZES if size <= new]:
        server = serve(new)
        proof = c2sp.consistency_proof_from_tiles(old, new, server)
        expected = tree.proof(old, 0, new, True) if 0 < old < new else []
        assert proof == expected
        c2sp.verify_consistency(old, new, proof, tree.mth(0, old), tree.mth(0, new))


@settings(max_examples=40)
@given(st.integers(1, BIG).flatmap(lambda size: st.tuples(st.just(size),
                                                           st.integers(0, size - 1))))
def test_random_inclusion_proofs_from_tiles(case: tuple[int, int]) -> None:
    size, index = case
    tree = big_tree()
    server = Server(tree.files(size, bundles=False))
    path = c2sp.inclusion_proof_from_tiles(index, size, server)
    assert path == tree.path(index, 0, size)
    c2sp.verify_inclusion(index, size, rfc_leaf(tree.entries[index]), path, tree.mth(0, size))
    assert set(server.fetched) <= {c2sp.tile_path(*t) for t in c2sp.tiles_for_size(size)}


@settings(max_examples=40)
@given(st.lists(st.integers(0, BIG), min_size=2, max_size=2).map(sorted))
def test_random_consistency_proofs_from_tiles(sizes: list[int]) -> None:
    old, new = sizes
    tree = big_tree()
    proof = c2sp.consistency_proof_from_tiles(old, new, Server(tree.files(new, bundles=False)))
    assert proof == (tree.proof(old, 0, new, True) if 0 < old < new else [])
    c2sp.verify_consistency(old, new, proof, tree.mth(0, old), tree.mth(0, new))
    assert c2sp.root_from_tiles(new, Server(tree.files(new, bundles=False))) == tree.mth(0, new)


def test_a_level_1_hash_must_be_the_hash_of_the_tile_below() -> None:
    files = dict(served(BIG))
    files["tile/1/000"] = SOME_HASH + files["tile/1/000"][32:]
    # Leaf 5's path uses level-0 tile 0 and level-1 tile 0, whose hash 0 covers it.
    rejects(lambda: c2sp.inclusion_proof_from_tiles(5, BIG, Server(files)),
            "hash 0 of tile 1/0 is not the hash of tile 0/0")


def test_a_corrupted_tile_changes_the_root() -> None:
    files = dict(served(BIG))
    files["tile/0/273.p/112"] = SOME_HASH + files["tile/0/273.p/112"][32:]
    assert c2sp.root_from_tiles(BIG, Server(files)) != big_tree().mth(0, BIG)


def test_missing_and_malformed_tiles_are_reported() -> None:
    files = dict(served(300))
    del files["tile/0/001.p/44"]
    rejects(lambda: c2sp.root_from_tiles(300, Server(files)), "tile/0/001.p/44")
    files["tile/0/001.p/44"] = bytes(32 * 43)
    rejects(lambda: c2sp.root_from_tiles(300, Server(files)), "width 44")


def test_a_gone_partial_tile_may_be_read_from_its_full_tile() -> None:
    """tlog-tiles: logs may delete a partial tile once the full one exists, and clients
    may fall back to the full tile."""
    files = dict(served(300))
    del files["tile/0/001.p/44"]
    files["tile/0/001"] = served(512)["tile/0/001"]
    assert c2sp.root_from_tiles(300, Server(files)) == big_tree().mth(0, 300)
    rejects(lambda: c2sp.root_from_tiles(300, Server(files), partial_fallback=False))


def test_entry_bundles_match_their_level_0_tiles() -> None:
    tree = big_tree()
    assert c2sp.entries_from_tiles(0, 300, serve(300)) == tree.entries[:256]
    assert c2sp.entries_from_tiles(1, 300, serve(300)) == tree.entries[256:300]
    files = dict(served(300))
    files["tile/entries/001.p/44"] = files["tile/entries/001.p/44"].replace(b"entry 299",
                                                                            b"entry 298")
    rejects(lambda: c2sp.entries_from_tiles(1, 300, Server(files)), "entry 299 ")
    rejects(lambda: c2sp.entries_from_tiles(2, 300, serve(300)), "no entry bundle")


# --------------------------------------------------------------------------------------
# tlog-witness add-checkpoint request bodies
# --------------------------------------------------------------------------------------


def test_the_add_checkpoint_example_parses_and_reformats() -> None:
    old, proof, checkpoint = c2sp.parse_add_checkpoint_body(WITNESS_REQUEST.encode())
    assert old == 20852014
    assert proof[0] == B64("PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=")
    assert len(proof) == 4
    assert checkpoint.startswith(SOFA_BODY + "\n— example.com/behind-the-sofa Az3g")
    assert c2sp.add_checkpoint_body(old, proof, checkpoint) == WITNESS_REQUEST.encode()


def test_an_add_checkpoint_body_round_trips() -> None:
    key, log = fresh_key("log.example/ladder")
    checkpoint = signed_checkpoint(checkpoint_body("log.example/ladder", 9, SOME_HASH), key,
                                   log.name)
    for old, proof in ((0, []), (4, [SOME_HASH] * 3), (8, [SOME_HASH] * 63)):
        body = c2sp.add_checkpoint_body(old, proof, checkpoint)
        assert c2sp.parse_add_checkpoint_body(body) == (old, proof, checkpoint)
    rejects(lambda: c2sp.add_checkpoint_body(8, [SOME_HASH] * 64, checkpoint), "63")


BAD_REQUESTS = {
    "leading zero": WITNESS_REQUEST.replace("old 20852014", "old 020852014"),
    "no old line": WITNESS_REQUEST.replace("old 20852014\n", ""),
    "old without space": WITNESS_REQUEST.replace("old 20852014", "old20852014"),
    "short hash": WITNESS_REQUEST.replace("PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=",
                                          "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpka=="),
    "64 proof lines": WITNESS_REQUEST.replace(
        "old 20852014\n", "old 20852014\n" + "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n" * 60),
    "no empty line": WITNESS_REQUEST.replace("/0=\n\n", "/0=\n", 1),
    "unsigned checkpoint": WITNESS_REQUEST.split("\n\n— ")[0],
    "carriage return": WITNESS_REQUEST.replace("old 20852014\n", "old 20852014\r\n"),
}


@pytest.mark.parametrize("body", BAD_REQUESTS.values(), ids=BAD_REQUESTS.keys())
def test_malformed_add_checkpoint_bodies_are_refused(body: str) -> None:
    rejects(lambda: c2sp.parse_add_checkpoint_body(body.encode()))


# --------------------------------------------------------------------------------------
# tlog-proof
# --------------------------------------------------------------------------------------


def test_the_tlog_proof_example_lines_parse() -> None:
    """The spec's example with its checkpoint swapped for a complete one: its own has
    "[...]" for the signatures, which is not base64, so it is refused verbatim."""
    key, log = fresh_key("example.com/fancylog")
    checkpoint = signed_checkpoint(TLOG_PROOF_CHECKPOINT.split("\n\n")[0] + "\n", key, log.name)
    proof = c2sp.parse_tlog_proof(TLOG_PROOF_HEAD + checkpoint)
    assert proof.index == 73894
    assert proof.extra is not None and proof.extra.startswith(b"age-v1.2.1-darwin-arm64.tar.gz")
    assert proof.path[0] == B64("gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=")
    assert len(proof.path) == 5
    assert proof.checkpoint == checkpoint
    rejects(lambda: c2sp.parse_tlog_proof(TLOG_PROOF_HEAD + TLOG_PROOF_CHECKPOINT), "base64")


@cache
def _proof_setup() -> tuple[Tree, c2sp.Verifier, list[c2sp.Verifier], str]:
    """A 20-entry log whose checkpoint is signed by the log and cosigned by 2 of 3."""
    tree = Tree([b"record %d" % i for i in range(20)])
    log_key, log = fresh_key("log.example/ladder")
    witness_keys = [fresh_key(f"witness{i}.example", c2sp.TYPE_COSIGNATURE_V1) for i in range(3)]
    body = checkpoint_body("log.example/ladder", 20, tree.mth(0, 20))
    cosigners = tuple((key, verifier.name) for key, verifier in witness_keys[:2])
    checkpoint = signed_checkpoint(body, log_key, log.name, cosigners)
    return tree, log, [verifier for _, verifier in witness_keys], checkpoint


def test_a_tlog_proof_round_trips_and_verifies() -> None:
    tree, log, witnesses, checkpoint = _proof_setup()
    path = tree.path(7, 0, 20)
    text = c2sp.format_tlog_proof(7, path, checkpoint, extra=b"context")
    assert c2sp.parse_tlog_proof(text) == c2sp.TlogProof(b"context", 7, tuple(path), checkpoint)
    leaf = rfc_leaf(tree.entries[7])
    verified = c2sp.verify_tlog_proof(text, leaf, log, witnesses, 2, origin="log.example/ladder")
    assert (verified.size, verified.root) == (20, tree.mth(0, 20))
    no_extra = c2sp.format_tlog_proof(7, path, checkpoint)
    assert c2sp.parse_tlog_proof(no_extra).extra is None
    assert c2sp.verify_tlog_proof(no_extra, leaf, log, witnesses, 2) == verified


def test_a_tlog_proof_fails_without_quorum_log_signature_or_inclusion() -> None:
    tree, log, witnesses, checkpoint = _proof_setup()
    path = tree.path(7, 0, 20)
    text = c2sp.format_tlog_proof(7, path, checkpoint)
    leaf = rfc_leaf(tree.entries[7])
    _, other_log = fresh_key(log.name)
    rejects(lambda: c2sp.verify_tlog_proof(text, leaf, log, witnesses, 3), "fewer than 3")
    rejects(lambda: c2sp.verify_tlog_proof(text, leaf, other_log, witnesses, 1))
    rejects(lambda: c2sp.verify_tlog_proof(text, rfc_leaf(b"other"), log, witnesses, 2))
    rejects(lambda: c2sp.verify_tlog_proof(text, leaf, log, witnesses, 2, origin="other"))
    moved = c2sp.format_tlog_proof(8, path, checkpoint)
    rejects(lambda: c2sp.verify_tlog_proof(moved, leaf, log, witnesses, 2))
    bent = c2sp.format_tlog_proof(7, [flip(path[0]), *path[1:]], checkpoint)
    rejects(lambda: c2sp.verify_tlog_proof(bent, leaf, log, witnesses, 2))


def _bad_tlog_proofs() -> dict[str, str]:
    tree, _, _, checkpoint = _proof_setup()
    good = c2sp.format_tlog_proof(7, tree.path(7, 0, 20), checkpoint, extra=b"context")
    return {
        "other version": good.replace("tlog-proof@v1", "tlog-proof@v2"),
        "no header": good.split("\n", 1)[1],
        "leading zero": good.replace("index 7\n", "index 07\n"),
        "no index": good.replace("index 7\n", ""),
        "index before extra": good.replace("extra Y29udGV4dA==\nindex 7\n",
                                           "index 7\nextra Y29udGV4dA==\n"),
        "extra not base64": good.replace("extra Y29udGV4dA==", "extra context"),
        "short path hash": good.replace("index 7\n", "index 7\nAAAA\n"),
        "no empty line": good.replace("\n\n", "\n", 1),
        "unsigned checkpoint": good.split("\n\n— ")[0] + "\n",
        "control character": good.replace("index 7", "index 7\t"),
    }


@pytest.mark.parametrize("name", list(_bad_tlog_proofs()))
def test_malformed_tlog_proofs_are_refused(name: str) -> None:
    rejects(lambda: c2sp.parse_tlog_proof(_bad_tlog_proofs()[name]))
