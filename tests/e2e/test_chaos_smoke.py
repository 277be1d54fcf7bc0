"""make chaos keeps working: every fault, at tiny sizes (a real run's sizes are in the docs).

One run of bench/chaos.py with every fault, as `make chaos` runs them (the faults on one
kind of database share a stack); one test per fault reads its row, so that a failure
names the fault.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bench import chaos

ROOT = Path(__file__).resolve().parents[2]
FAULTS = list("1234567")


@dataclass
class Run:
    rows: list[dict[str, Any]]
    returncode: int
    output: str

    def row(self, fault: str) -> dict[str, Any]:
        found = [r for r in self.rows if r["fault"].split(".")[0] == fault]
        assert len(found) == 1, (fault, self.rows, self.output)
        return found[0]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    out = tmp_path_factory.mktemp("chaos") / "chaos-smoke.json"
    env = {**os.environ, "CHAOS_SMOKE": "1", "PYTHONPATH": str(ROOT), "CHAOS_RESULTS": str(out)}
    for key in ("CHAOS_ONLY", "CHAOS_EVENTS", "CHAOS_EVENTS_OTHER", "CHAOS_DATABASE"):
        env.pop(key, None)
    result = subprocess.run([sys.executable, "bench/chaos.py"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=1800)
    output = result.stdout[-8000:] + result.stderr[-8000:]
    assert out.exists(), output
    return Run(json.loads(out.read_text())["rows"], result.returncode, output)


def test_the_smoke_tests_cover_every_fault() -> None:
    assert [fault.key for fault in chaos.FAULTS] == FAULTS


def test_the_run_reports_every_fault_in_order_and_exits_0(run: Run) -> None:
    assert [r["fault"].split(".")[0] for r in run.rows] == FAULTS, run.output
    assert run.returncode == 0, run.output


@pytest.mark.parametrize("fault", FAULTS)
def test_the_fault_runs_and_loses_nothing_in_smoke_mode(fault: str, run: Run) -> None:
    row = run.row(fault)
    # A fault that could not be injected proved nothing: that fails too.
    assert not row["not_run"], (row, run.output)
    assert row["passed"], (row, run.output)
    assert row["lost"] == 0 and row["duplicates"] == 0 and row["verify"] == "passes", row
    assert row["measures"] == "exact" and row["tiles"] == "exact", row
    assert row["accepted"] == row["in_ledger"] > 0, row
