"""The /health watchdog's probe script, run for real with stand-ins for systemctl and curl (the
sandbox fault tests run it under real systemd): it ignores a run that never answered, counts
consecutive failures of a run that did, resets on success or on a new run, and kills at N."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from vllm_fleet.paths import TEMPLATES_DIR

SCRIPT = TEMPLATES_DIR / "vllm-health-watchdog.sh"


@pytest.fixture
def probe(tmp_path: Path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "systemctl").write_text(
        '#!/bin/sh\ncase "$1" in is-active) cat "$WD/active";; show) cat "$WD/run";; esac\n'
    )
    (bin_dir / "curl").write_text('#!/bin/sh\nexit "$(cat "$WD/curl_rc")"\n')
    for stub in bin_dir.iterdir():
        stub.chmod(0o755)
    (tmp_path / "active").write_text("active\n")
    (tmp_path / "run").write_text("run-1\n")
    killed = tmp_path / "killed"
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "WD": str(tmp_path),
        "VLLM_FLEET_WATCHDOG_STATE": str(tmp_path / "state"),
    }

    def run(healthy: bool) -> str:
        (tmp_path / "curl_rc").write_text("0" if healthy else "28")
        result = subprocess.run(
            [
                "sh",
                str(SCRIPT),
                "vllm-serve.service",
                "http://127.0.0.1:8000/health",
                "3",
                "2",
                "sh",
                "-c",
                f"echo kill >> {killed}",
            ],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        return result.stdout

    run.killed = lambda: killed.read_text().count("kill") if killed.exists() else 0
    run.new_run = lambda name: (tmp_path / "run").write_text(name + "\n")
    return run


def test_a_run_still_loading_is_left_alone(probe) -> None:
    for _ in range(5):
        probe(healthy=False)
    assert probe.killed() == 0


def test_three_failures_in_a_row_kill_once(probe) -> None:
    probe(healthy=True)
    probe(healthy=False)
    probe(healthy=False)
    assert probe.killed() == 0
    assert "killing the server" in probe(healthy=False)
    assert probe.killed() == 1
    probe(healthy=False)  # the same run, not yet restarted: the count starts again
    assert probe.killed() == 1


def test_a_success_resets_the_count(probe) -> None:
    probe(healthy=True)
    probe(healthy=False)
    probe(healthy=False)
    probe(healthy=True)
    probe(healthy=False)
    probe(healthy=False)
    assert probe.killed() == 0


def test_a_new_run_must_answer_again_before_it_counts(probe) -> None:
    probe(healthy=True)
    probe(healthy=False)
    probe.new_run("run-2")  # systemd restarted it: loading again
    for _ in range(4):
        probe(healthy=False)
    assert probe.killed() == 0
