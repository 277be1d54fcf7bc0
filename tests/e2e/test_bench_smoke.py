"""make bench keeps working: every row, at tiny sizes (the figures mean nothing here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_benchmark_runs_every_row_in_smoke_mode() -> None:
    env = {**os.environ, "BENCH_SMOKE": "1", "PYTHONPATH": str(ROOT)}
    env.pop("BENCH_DATABASE", None)
    result = subprocess.run([sys.executable, "bench/run.py"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rows = json.loads((ROOT / "bench" / "results" / "latest.json").read_text())["rows"]
    assert [r["row"] for r in rows] == ["a", "b", "c50", "c99", "e", "d1", "d1r", "d2", "d3", "d3m",
                                        "d4"]
    assert all(r["value"] > 0 for r in rows)
