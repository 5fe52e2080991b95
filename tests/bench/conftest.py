"""Helpers for the bench and eval tests: run the tasks the way an operator does."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

HERE = Path(__file__).parent
GUIDE_DIR = HERE / "guide"  # the usage guide's printed output, verbatim
RECORDED_DIR = HERE / "recorded"  # lm-eval results files (see its README.md)
TINY_GATES = HERE / "tiny-gates.yaml"

# tasks.py wires the collections into `invoke`; the tests run the collections themselves, so
# they do not depend on that wiring, in a subprocess so exit codes and output are the operator's.
RUN_TASK = (
    "import sys; from invoke import Collection, Program; "
    "from vllm_fleet.tasks import bench, evaluate; "
    "ns = Collection(bench.ns, evaluate.ns); "
    "Program(namespace=ns, version='0').run(['invoke', *sys.argv[1:]])"
)

InvokeTask = Callable[..., subprocess.CompletedProcess]


def run_task(
    *args: str, env: dict[str, str] | None = None, timeout: float = 900
) -> subprocess.CompletedProcess:
    """``run_task("bench.compare", A, B, ..., env={...})`` → the finished process."""
    return subprocess.run(
        [sys.executable, "-c", RUN_TASK, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture
def invoke_task() -> InvokeTask:
    """The tasks, run as an operator runs them (see run_task)."""
    return run_task
