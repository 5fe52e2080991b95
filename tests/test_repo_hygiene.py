"""Checks on the repository itself: style, shell scripts, and the README/CI test command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from vllm_fleet.paths import REPO_ROOT

BIN = Path(sys.executable).parent


def test_ruff_is_clean() -> None:
    proc = subprocess.run([BIN / "ruff", "check", "--no-cache", "src", "tests", "tasks.py"],
                          cwd=REPO_ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ci_runs_the_readmes_test_command() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    ci = (REPO_ROOT / ".ci" / "run").read_text()
    assert "scripts/test.sh" in readme
    assert "exec ./scripts/test.sh\n" in ci
