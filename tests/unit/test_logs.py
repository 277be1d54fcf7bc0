"""Every process writes JSON lines to stdout, with the context's request id."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import pytest

from shared import logs

SCRIPT = """
import logging, warnings
from shared import logs
logs.configure()
log = logging.getLogger("ladder.example")
log.info("before")
with logs.context(request_id="0123456789abcdef0123"):
    log.warning("inside %s", "it", extra={"events": 3})
log.info("after")
warnings.warn("a library complains")
"""


def test_log_lines_are_json_with_the_process_and_the_request_id() -> None:
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                         env={"LADDER_PROCESS": "relay", "PATH": ""}, check=True)
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert [line["message"] for line in lines[:3]] == ["before", "inside it", "after"]
    assert all(line["process"] == "relay" and "time" in line for line in lines)
    inside = lines[1]
    assert (inside["level"], inside["logger"]) == ("WARNING", "ladder.example")
    assert inside["request_id"] == "0123456789abcdef0123" and inside["events"] == 3
    assert "request_id" not in lines[0] and "request_id" not in lines[2]
    # Python's warnings are log lines too, not stray text.
    assert "a library complains" in lines[3]["message"]
    assert out.stderr == ""


# Fixed values: parallel test processes must collect the same tests.
@pytest.mark.parametrize("given", ["1d91f7b6-eeaf-4cc7-9e95-a0a7620fc6d2", "0" * 16,
                                   "9f86d081884c7d659a2feaa0c55ad015"])
def test_a_plain_request_id_is_kept(given: str) -> None:
    assert logs.request_id_from(given) == given


@pytest.mark.parametrize("given", [None, "", "abc", "Jane Smith", "x" * 65, "0" * 65,
                                   "0123456789abcdef\n"])
def test_anything_else_gets_a_new_request_id(given: str | None) -> None:
    made = logs.request_id_from(given)
    assert made != given and uuid.UUID(made).version == 4
