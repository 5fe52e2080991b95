"""The README's demo command end to end: `scripts/demo.sh` (bootstrap, then invoke demo) on this
machine, twice: the second run reuses everything and is quicker."""

from __future__ import annotations

import re
import subprocess
import time

import httpx
import pytest

from vllm_fleet.local import sandbox
from vllm_fleet.paths import REPO_ROOT

pytestmark = pytest.mark.slow
STAGES = ("cpu image", "tiny model", "sandbox host", "push", "local hub", "deploy", "smoke")


def _demo() -> tuple[str, float]:
    started = time.monotonic()
    proc = subprocess.run(
        ["bash", "scripts/demo.sh"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=3000,
        env={"PATH": "/usr/local/bin:/usr/bin:/bin", "COLUMNS": "120", "HOME": "/root"},
    )
    assert proc.returncode == 0, proc.stdout[-4000:]
    return proc.stdout, time.monotonic() - started


def test_demo_runs_build_deploy_smoke_and_reuses_on_a_second_run(
    sandbox_fleet: list[sandbox.SandboxHost],
) -> None:
    """On the session's fleet (the demo keeps every host that is up and deploys them all); the
    session removes it at the end, so later tests stand on the same hosts."""
    first, _ = _demo()
    assert "vllm-fleet demo: kimi-tiny at http://127.0.0.1:8000" in first
    for stage in STAGES:
        assert re.search(rf"^  {stage}\s+[\d.]+\s+\d+%$", first, re.MULTILINE), stage
    assert re.search(r"│ tool_call\s+│ pass", first)
    assert "tear down: invoke sandbox.down" in first
    assert httpx.get("http://127.0.0.1:8000/health", timeout=10).status_code == 200

    second, seconds = _demo()
    assert re.search(r"Grand total\s+\d+\s+-\s+-", second), second[-3000:]
    assert re.search(r"\(14/16 steps from cache\)", second), second[:1000]
    print(f"warm demo: {seconds:.0f} s")
