"""The real processes, started from the Procfile: bench/support/stack.py, which the
benchmarks share."""

from __future__ import annotations

from bench.support.stack import ROOT, WRITE_PATH, Stack, listening, prepare

__all__ = ["ROOT", "WRITE_PATH", "Stack", "listening", "prepare"]
