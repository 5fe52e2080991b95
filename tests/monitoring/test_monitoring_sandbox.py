"""The monitoring for real, on the sandbox host: Debian's Prometheus and node exporter deployed by
deploy/monitoring.py over SSH, scraping the real vLLM (CPU) the demo deployed.

The sandbox host is both the serving host and the monitoring host (one host: the multi-host
sandbox is not used here), so there is no GPU exporter in these tests (covered at plan level,
test_monitoring_plans.py), and the router runs on the controller in front of the host's vLLM.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from vllm_fleet.local import monitoring, sandbox
from vllm_fleet.local.demo import run_demo
from vllm_fleet.monitoring.names import ROUTER_NAME, VLLM_HTTP_NAME, VLLM_NAME, used_names
from vllm_fleet.monitoring.status import read_router_workers
from vllm_fleet.smoke.metrics import parse_metrics, series_names

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skip(
        reason="written for the one-host sandbox (sandbox.config_from_inventory, port 8000); not "
        "yet ported to the multi-host sandbox's shared fleet fixture"
    ),
]
URL = "http://127.0.0.1:8000"


@pytest.fixture(scope="module")
def inventory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    run_demo(log=lambda _line: None)
    path = monitoring.monitored_inventory(tmp_path_factory.mktemp("monitored"))
    result = monitoring.deploy_monitoring(path)
    assert result.returncode == 0, result.stdout[-4000:]
    yield path
    sandbox.down(sandbox.config_from_inventory(), log=lambda _line: None)


def test_a_second_deploy_changes_nothing(inventory: Path) -> None:
    result = monitoring.deploy_monitoring(inventory)
    assert result.returncode == 0, result.stdout[-3000:]
    changed = [
        line
        for line in result.stdout.splitlines()
        if re.match(r"\s+(Node exporter|Prometheus|Dashboards) \|", line)
        and re.search(r"\s1\s+1\s+-\s+-\s*$", line)
    ]
    assert changed == [], "\n".join(changed)


def test_every_target_is_up(inventory: Path) -> None:
    monitoring.wait_for(
        lambda: set(monitoring.target_health().values()) == {"up"}, 60, "every target up"
    )
    assert monitoring.target_health() == {"vllm": "up", "node": "up", "prometheus": "up"}


def test_the_rules_are_loaded_and_the_node_exporter_reports_the_unit(inventory: Path) -> None:
    groups = monitoring.prometheus_api("/api/v1/rules")["groups"]
    assert {r["name"] for g in groups for r in g["rules"]} >= {"VllmEndpointDown", "WeightsDiskLow"}
    restarts = monitoring.prometheus_api("/api/v1/query?query=node_systemd_service_restart_total")[
        "result"
    ]
    assert [r["metric"]["name"] for r in restarts] == ["vllm-serve.service"]
    weights = monitoring.prometheus_api("/api/v1/query?query=vllm_fleet_weights_disk_info")
    assert weights["result"][0]["metric"]["path"] == "/var/lib/vllm-fleet"


def test_every_vllm_metric_name_in_rules_and_dashboards_is_in_a_real_scrape(
    inventory: Path,
) -> None:
    """vLLM renames metrics between versions; the pinned one must export every name used."""
    scraped = series_names(parse_metrics(httpx.get(f"{URL}/metrics", timeout=10).text))
    missing = (used_names(VLLM_NAME) | used_names(VLLM_HTTP_NAME)) - scraped
    assert missing == set(), f"not exported by the pinned vLLM: {sorted(missing)}"


def test_every_router_metric_name_is_in_a_real_scrape(inventory: Path) -> None:
    """vllm-router (PyPI) in front of the sandbox's vLLM, on the controller's loopback: the
    names the rules and dashboards use, and the membership `invoke status` reads from them."""
    router = shutil.which("vllm-router", path=str(Path(sys.executable).parent))
    if router is None:
        pytest.skip("vllm-router is not installed in this venv (pip install vllm-router)")
    port, metrics_port = _free_port(), _free_port()
    process = subprocess.Popen(
        [
            router,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--worker-urls",
            URL,
            "--prometheus-host",
            "127.0.0.1",
            "--prometheus-port",
            str(metrics_port),
            "--health-check-interval-secs",
            "1",
            "--worker-startup-check-interval",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        metrics = f"http://127.0.0.1:{metrics_port}"
        with httpx.Client(timeout=5) as client:
            monitoring.wait_for(
                lambda: read_router_workers(client, metrics) == {URL: "healthy"},
                120,
                "router reports its worker healthy",
            )
            scraped = series_names(parse_metrics(client.get(f"{metrics}/metrics").text))
    finally:
        process.terminate()
        process.wait(timeout=30)
    missing = used_names(ROUTER_NAME) - scraped
    assert missing == set(), f"not exported by vllm-router: {sorted(missing)}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_stopped_unit_fires_its_alert_and_invoke_status_says_so(inventory: Path) -> None:
    assert monitoring.invoke_status(inventory).returncode == 0
    timing = monitoring.seconds_to_fire(
        "VllmEndpointDown", lambda: monitoring.on_host("systemctl", "stop", "vllm-serve")
    )
    print(f"VllmEndpointDown: {timing}")
    # `for: 1m` on a 5 s scrape/evaluation interval: pending first, firing a minute later.
    assert 55 <= timing["firing_after_pending_s"] <= 120, timing
    down = monitoring.invoke_status(inventory, "--json")
    assert down.returncode != 0
    (row,) = json.loads(down.stdout)
    assert row["unit_state"] == "inactive" and not row["ok"]
    assert "vllm-serve.service is inactive, not active" in row["differences"]

    monitoring.on_host("systemctl", "start", "vllm-serve")
    monitoring.wait_for(
        lambda: httpx.get(f"{URL}/health", timeout=5).status_code == 200, 300, "vLLM healthy again"
    )
    up = monitoring.invoke_status(inventory, "--json")
    assert up.returncode == 0, up.stdout + up.stderr
    monitoring.wait_for(
        lambda: monitoring.alert_state("VllmEndpointDown") == "inactive", 60, "alert resolved"
    )
