"""make bench keeps working: every row, at tiny sizes (the figures mean nothing here).

One test per group of rows that bench/run.py measures together (BENCH_ONLY), so that they
run side by side; together they produce every row.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ROWS = {"a": ["a", "af", "afc", "ag"], "b": ["b", "c50", "c99", "f99", "e"],
        "d": ["d1", "d1r", "d1c", "d2", "d5", "d5n", "d6", "d3", "d3m", "d4"]}


def test_the_groups_are_every_row() -> None:
    assert [r for rows in ROWS.values() for r in rows] == [
        "a", "af", "afc", "ag", "b", "c50", "c99", "f99", "e", "d1", "d1r", "d1c", "d2", "d5",
        "d5n", "d6", "d3", "d3m", "d4"]


@pytest.mark.parametrize("group", ROWS)
def test_the_benchmark_runs_every_row_in_smoke_mode(group: str, tmp_path: Path) -> None:
    out = tmp_path / "latest.json"
    env = {**os.environ, "BENCH_SMOKE": "1", "PYTHONPATH": str(ROOT), "BENCH_ONLY": group,
           "BENCH_RESULTS": str(out)}
    env.pop("BENCH_DATABASE", None)
    result = subprocess.run([sys.executable, "bench/run.py"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rows = json.loads(out.read_text())["rows"]
    assert [r["row"] for r in rows] == ROWS[group]
    # A follower lag shorter than the sampling's 20 ms reads 0.
    assert all(r["value"] > 0 or r["row"] == "f99" and r["value"] == 0 for r in rows)
