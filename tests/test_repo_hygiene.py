"""Checks on the repository itself: style, shell scripts, and the README/CI test command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from vllm_fleet.paths import REPO_ROOT

BIN = Path(sys.executable).parent


def _tracked(*patterns: str) -> list[str]:
    return subprocess.run(
        ["git", "ls-files", *patterns], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.split()


def test_ruff_is_clean_on_every_python_file() -> None:
    """inventory/, deploy/, benchmarks/ and tasks.py included, not only the package."""
    proc = subprocess.run(
        [BIN / "ruff", "check", "--no-cache", *_tracked("*.py")],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ruff_format_is_clean_on_every_python_file() -> None:
    proc = subprocess.run(
        [BIN / "ruff", "format", "--check", "--no-cache", *_tracked("*.py")],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_yamllint_is_clean_on_every_yaml_file() -> None:
    proc = subprocess.run(
        [BIN / "yamllint", "--strict", "-c", ".yamllint.yaml", *_tracked("*.yaml", "*.yml")],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ci_runs_the_readmes_test_command() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    ci = (REPO_ROOT / ".ci" / "run").read_text()
    assert "scripts/test.sh" in readme
    assert "exec ./scripts/test.sh\n" in ci


def test_the_repository_stands_alone() -> None:
    """No file points at documents outside the repository (design notes, private research)."""
    outside = ("../shared", "DESIGN.md", "notes/", "research §", "TEST-INFRA", "KIMI-TINY")
    offenders = []
    for name in _tracked():
        path = REPO_ROOT / name
        if name == "tests/test_repo_hygiene.py" or not path.is_file():
            continue
        text = path.read_text(errors="replace")
        offenders += [f"{name}: {word}" for word in outside if word in text]
    assert offenders == []
