"""Faults end to end on the sandbox host: the deployed unit (Restart=always, the /health watchdog
timer, --shutdown-timeout) brings the real vLLM server back or lets it finish.

- SIGKILL of the server: the container ends, systemd restarts the unit, healthy again;
- SIGSTOP of the server, so /health hangs: the watchdog kills it after its failed probes,
  systemd restarts it, healthy again;
- `systemctl restart` during long streaming completions: each finishes intact.

Each prints its timings (benchmarks/fault_recovery.py records them); the limits here are generous
bounds that catch "never came back", not performance assertions.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from vllm_fleet.images.manifest import ImageManifest
from vllm_fleet.local import faults, sandbox
from vllm_fleet.local.hub.container import HubContainer

from .sandbox_harness import MODEL, Deployment, first_deploy

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def deployment(
    sandbox_host: sandbox.SandboxHost,
    local_hub: HubContainer,
    pushed_manifest: ImageManifest,
    cpu_build_dir: Path,
) -> Deployment:
    deployment = first_deploy(cpu_build_dir / "images")
    assert deployment.first and deployment.first.returncode == 0, (
        deployment.first.stdout[-4000:] if deployment.first else ""
    )
    return deployment


def test_the_watchdog_timer_runs(deployment: Deployment, host) -> None:
    assert host.service("vllm-serve-watchdog.timer").is_running
    unit = host.file("/etc/systemd/system/vllm-serve.service").content_string
    assert "Restart=always\n" in unit and "--shutdown-timeout" in unit


def test_the_container_runs_without_capabilities(deployment: Deployment, host) -> None:
    """--cap-drop ALL and no-new-privileges hold for the real server, which still serves (the
    deploy's ready gate passed its smoke checks)."""
    status = host.check_output(f"cat /proc/{faults.server_pid()}/status")
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    assert int(fields["CapEff"].strip(), 16) == 0
    assert int(fields["CapBnd"].strip(), 16) == 0
    assert fields["NoNewPrivs"].strip() == "1"
    assert "smoke:" in (deployment.first.stdout if deployment.first else "")


def test_sigkill_of_the_server_is_restarted(deployment: Deployment) -> None:
    result = faults.recovery_after_signal("KILL", limit_s=600)
    print(f"SIGKILL: {result}")
    assert result["restarts"] >= 1
    assert faults.healthy()


def test_a_hung_server_is_killed_by_the_watchdog(deployment: Deployment, host) -> None:
    result = faults.recovery_after_signal("STOP", limit_s=600)
    print(f"SIGSTOP: {result}")
    assert result["restarts"] >= 1
    journal = host.check_output("journalctl -u vllm-serve-watchdog.service -o cat --no-pager")
    assert "killing the server so systemd restarts it" in journal
    assert faults.healthy()


def test_a_restart_lets_streaming_completions_finish(deployment: Deployment) -> None:
    result = faults.streams_across_restart(
        MODEL.served_model_name, deployment.api_key, streams=4, max_tokens=256
    )
    print(f"restart during streams: {result}")
    assert result["in_flight_at_restart"] >= 1, result
    assert result["share_completed"] == 1.0, result
