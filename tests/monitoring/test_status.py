"""`invoke status`: what a host's probe and HTTP answers mean against its plan."""

from __future__ import annotations

import shutil

import pytest

from deploy.plan_harness import MANIFESTS
from vllm_fleet.hostdata import settings_for
from vllm_fleet.monitoring.status import HostStatus, compare, parse_probe, probe_command
from vllm_fleet.serving.inventory import HostData
from vllm_fleet.serving.plan import Planner

PROBE_OK = [
    "unit=vllm-serve.service",
    "ActiveState=active",
    "NRestarts=2",
    "profile=cpu",
    "running_id=sha256:aaa",
    "planned_id=sha256:aaa",
    "running_digests=127.0.0.1:5000/vllm-fleet/cpu@sha256:bbb",
]
SERVER_OK = {
    "health": "200",
    "vllm_version": "0.32.0+cpu",
    "models": ["kimi-tiny"],
    "requests_running": 1.0,
    "requests_waiting": 0.0,
    "kv_cache_usage": 0.25,
}


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory):
    """The sandbox host's plan, against the recorded cpu image manifest."""
    host = HostData.from_mapping(
        "sandbox-1",
        {
            "gpu_vendor": "none",
            "gpu_count": 0,
            "model": "kimi-tiny",
            "profile": "cpu",
            "image_target": "cpu",
            "image_pull": False,
        },
    )
    folder = tmp_path_factory.mktemp("manifests")
    shutil.copy(MANIFESTS / "cpu-0.32.0.json", folder / "cpu.json")
    plan = Planner(manifest_dir=folder).plan(host)
    assert plan.spec is not None, plan.error
    return plan.spec


def _row(spec) -> HostStatus:
    return HostStatus(
        host="sandbox-1",
        role="serving",
        unit="vllm-serve.service",
        image_planned=spec.image,
        model_planned=spec.served_model_name,
        profile_planned=spec.profile,
        vllm_version_planned=spec.validation.vllm_version,
    )


def test_a_host_as_planned_has_no_differences(spec) -> None:
    row = compare(_row(spec), parse_probe(PROBE_OK), spec, SERVER_OK)
    assert row.ok, row.differences
    assert (row.reachable, row.unit_state, row.restarts) == (True, "active", 2)
    assert row.image_running == "127.0.0.1:5000/vllm-fleet/cpu@sha256:bbb"
    assert row.image_matches and row.profile == "cpu" and row.model == "kimi-tiny"
    assert row.to_dict()["ok"] is True


def test_a_stopped_unit_is_a_difference(spec) -> None:
    probe = [line.replace("ActiveState=active", "ActiveState=inactive") for line in PROBE_OK]
    probe = [line for line in probe if not line.startswith("running_")]
    down = {"health": "unreachable"}
    row = compare(_row(spec), parse_probe(probe), spec, down)
    assert row.differences == [
        "vllm-serve.service is inactive, not active",
        "no container running",
        "/health: unreachable",
    ]


def test_unreachable_over_ssh(spec) -> None:
    row = compare(_row(spec), None, spec, SERVER_OK)
    assert row.differences == ["not reachable over SSH"] and not row.reachable


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"planned_id": "sha256:ccc"}, "runs 127.0.0.1:5000/vllm-fleet/cpu@sha256:bbb, planned"),
        ({"profile": "latency"}, "unit profile latency, planned cpu"),
    ],
)
def test_image_and_profile_drift(spec, change: dict, expected: str) -> None:
    probe = [
        f"{k}={change[k]}" if (k := line.split("=")[0]) in change else line for line in PROBE_OK
    ]
    row = compare(_row(spec), parse_probe(probe), spec, SERVER_OK)
    assert any(d.startswith(expected) for d in row.differences), row.differences


def test_model_and_version_drift(spec) -> None:
    server = {**SERVER_OK, "models": ["other"], "vllm_version": "0.31.1"}
    row = compare(_row(spec), parse_probe(PROBE_OK), spec, server)
    assert "serves other, planned kimi-tiny" in row.differences
    assert "vLLM 0.31.1, planned 0.32.0" in row.differences


def test_probe_reads_units_image_and_profile_without_secrets(spec) -> None:
    settings = settings_for(HostData.from_mapping("h", {}))
    command = probe_command(settings, spec, ["vllm-serve.service"])
    assert "systemctl show --property=ActiveState,NRestarts vllm-serve.service" in command
    assert "inspect --format '{{.Image}}' vllm-serve" in command
    assert spec.image in command


def test_router_membership_is_matched_by_host_and_port() -> None:
    from vllm_fleet.monitoring.status import _membership, _router_row

    router = HostStatus(host="router-01", role="routers")
    _router_row(router, {"http://10.0.0.11:8000": "healthy", "http://10.0.0.12:8000": "unhealthy"})
    assert router.differences == ["worker http://10.0.0.12:8000 unhealthy"]
    serving = HostStatus(host="h200-02", role="serving")
    _membership(serving, "http://10.0.0.12:8000", {"router-01": router.router_workers})
    assert serving.routers == {"router-01": "unhealthy"}
    assert serving.differences == ["router-01 marks it unhealthy"]
    absent = HostStatus(host="h200-03", role="serving")
    _membership(absent, "http://10.0.0.13:8000", {"router-01": router.router_workers})
    assert absent.routers == {}
    unreachable = HostStatus(host="router-02", role="routers")
    _router_row(unreachable, None)
    assert unreachable.differences == ["router metrics do not answer"]


def test_invoke_status_reads_hosts_through_pyinfras_connector(tmp_path) -> None:
    """The whole command on a `@fake` host (pyinfra's own connector answers the probe) whose
    HTTP port is closed: one row, /health unreachable, exit 1 naming the host."""
    import json
    import socket
    import subprocess
    import sys
    from pathlib import Path

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    shutil.copy(MANIFESTS / "cpu-0.32.0.json", manifests / "cpu.json")
    # The probe is one shell command; the fake connector answers it with its whole output.
    responses = {
        "systemctl show": [
            "unit=vllm-serve.service",
            "ActiveState=active",
            "NRestarts=0",
            "profile=cpu",
            "running_id=sha256:1",
            "planned_id=sha256:1",
        ]
    }
    data = {
        "fake_delay": 0,
        "fake_delay_jitter": 0,
        "fake_responses": responses,
        "gpu_vendor": "none",
        "gpu_count": 0,
        "model": "kimi-tiny",
        "profile": "cpu",
        "image_target": "cpu",
        "image_pull": False,
        "vllm_url": f"http://127.0.0.1:{closed}",
        "image_manifest_dir": str(manifests),
    }
    inventory = tmp_path / "fleet.py"
    inventory.write_text(f"sandbox = [('@fake/sandbox-1', {data!r})]\n")
    invoke = Path(sys.executable).parent / "invoke"
    proc = subprocess.run(
        [
            str(invoke),
            "status",
            "--inventory",
            str(inventory),
            "--json",
            "--manifest-dir",
            str(manifests),
        ],
        cwd=Path(__file__).parents[2],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    (row,) = json.loads(proc.stdout)
    assert (row["host"], row["reachable"], row["unit_state"]) == ("@fake/sandbox-1", True, "active")
    assert row["health"] == "unreachable"
    assert row["differences"] == ["/health: unreachable"]
    assert "1 of 1 hosts differ from the plan: @fake/sandbox-1" in proc.stderr
