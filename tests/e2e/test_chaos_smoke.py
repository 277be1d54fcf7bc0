"""make chaos keeps working: every fault, at tiny sizes (a real run's sizes are in the docs)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_fault_runs_and_loses_nothing_in_smoke_mode() -> None:
    env = {**os.environ, "CHAOS_SMOKE": "1", "PYTHONPATH": str(ROOT)}
    for key in ("CHAOS_ONLY", "CHAOS_EVENTS", "CHAOS_EVENTS_OTHER", "CHAOS_DATABASE"):
        env.pop(key, None)
    result = subprocess.run([sys.executable, "bench/chaos.py"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=900)
    output = result.stdout[-4000:] + result.stderr[-4000:]
    rows = json.loads((ROOT / "bench" / "results" / "chaos-smoke.json").read_text())["rows"]
    assert [r["fault"][0] for r in rows] == list("123456"), output
    for row in rows:
        if row["not_run"]:
            # Only PostgreSQL may be missing from a machine; the row says why.
            assert row["fault"].startswith("3."), output
            continue
        assert row["passed"], (row, output)
        assert row["accepted"] == row["in_ledger"] > 0
    assert result.returncode == (1 if any(r["not_run"] for r in rows) else 0), output
