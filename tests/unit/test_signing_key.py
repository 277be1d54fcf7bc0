"""The development signing key: made once, even when processes start together."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

import pytest

from services.ledger.signing import load_signer

_barrier: Any = None


def _ready(barrier: Any) -> None:
    global _barrier
    _barrier = barrier


def _public_key(path: str) -> str:
    _barrier.wait()  # every process asks for the key at the same moment
    return str(load_signer({"SIGNING_KEY_FILE": path}).public_json()["public_key"])


def test_processes_starting_together_share_one_complete_key(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    n = 6
    with context.Pool(n, initializer=_ready, initargs=(context.Barrier(n),)) as pool:
        for round_ in range(10):
            path = tmp_path / str(round_) / "ledger-signing-key.pem"
            keys = pool.map(_public_key, [str(path)] * n, chunksize=1)
            assert len(set(keys)) == 1
            assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_production_never_makes_a_key_up(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="never makes one up"):
        load_signer({"SIGNING_KEY_FILE": str(tmp_path / "missing.pem"),
                     "LADDER_ENV": "production"})
    assert not (tmp_path / "missing.pem").exists()
