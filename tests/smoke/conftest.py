"""Helpers for the smoke tests: run `invoke smoke` the way an operator does."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

import pytest

# tasks.py wires the collection into `invoke`; the test runs the collection itself, so it does
# not depend on that wiring, in a subprocess so exit codes and stderr are the operator's.
RUN_TASK = (
    "import sys; from invoke import Program; from vllm_fleet.tasks.smoke import ns; "
    "Program(namespace=ns, version='0').run(['invoke', *sys.argv[1:]])"
)

InvokeSmoke = Callable[..., subprocess.CompletedProcess]


@pytest.fixture
def invoke_smoke() -> InvokeSmoke:
    """``invoke_smoke("--url", URL, ..., env={"VAR": "value"})`` → the finished process."""

    def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-c", RUN_TASK, "smoke", *args],
            capture_output=True,
            text=True,
            timeout=600,
            env={**os.environ, **(env or {})},
        )

    return run
