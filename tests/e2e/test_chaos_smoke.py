"""make chaos keeps working: every fault, at tiny sizes (a real run's sizes are in the docs).

One test per fault, so that they run side by side; together they run every fault.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import chaos

ROOT = Path(__file__).resolve().parents[2]
FAULTS = list("123456")


def test_the_smoke_tests_cover_every_fault() -> None:
    assert [fault.key for fault in chaos.FAULTS] == FAULTS


@pytest.mark.parametrize("fault", FAULTS)
def test_the_fault_runs_and_loses_nothing_in_smoke_mode(fault: str, tmp_path: Path) -> None:
    out = tmp_path / "chaos-smoke.json"
    env = {**os.environ, "CHAOS_SMOKE": "1", "PYTHONPATH": str(ROOT), "CHAOS_ONLY": fault,
           "CHAOS_RESULTS": str(out)}
    for key in ("CHAOS_EVENTS", "CHAOS_EVENTS_OTHER", "CHAOS_DATABASE"):
        env.pop(key, None)
    result = subprocess.run([sys.executable, "bench/chaos.py"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=600)
    output = result.stdout[-4000:] + result.stderr[-4000:]
    rows = json.loads(out.read_text())["rows"]
    assert [r["fault"][0] for r in rows] == [fault], output
    row = rows[0]
    # A fault that could not be injected proved nothing: that fails too.
    assert not row["not_run"], (row, output)
    assert row["passed"], (row, output)
    assert row["lost"] == 0 and row["duplicates"] == 0 and row["verify"] == "passes", row
    assert row["accepted"] == row["in_ledger"] > 0, row
    assert result.returncode == 0, output
