"""The monitoring for real, on the sandbox fleet: `pyinfra inventory/sandbox.py
deploy/monitoring.py` puts Debian's node exporter on every host and Prometheus (Debian) on the
monitoring host (the last one), over SSH. It scrapes every host's real vLLM (CPU) and node
exporter, and host 1's vllm-router, by container name on the sandbox network.

No GPU here, so there is no GPU exporter in these tests (covered at plan level,
test_monitoring_plans.py).
"""

from __future__ import annotations

import json

import httpx
import pytest

from deploy.sandbox_harness import Deployment, totals
from vllm_fleet.local import monitoring, sandbox
from vllm_fleet.monitoring.names import ROUTER_NAME, VLLM_HTTP_NAME, VLLM_NAME, used_names
from vllm_fleet.smoke.metrics import parse_metrics, series_names

pytestmark = pytest.mark.slow
ROUTER = sandbox.SandboxHost(sandbox.ROUTER_HOST_INDEX)
ROUTER_METRICS = f"{sandbox.ROUTER_URL}/metrics"  # vllm-router's exporter, through HAProxy


def output(result) -> str:
    return (result.stdout + (result.stderr or ""))[-4000:]


@pytest.fixture(scope="module")
def monitored(served_fleet: Deployment) -> Deployment:
    """The served fleet behind its router, with the monitoring deployed on every host."""
    routed = served_fleet.run("--limit", ROUTER.name, deploy="deploy/router.py")
    assert routed.returncode == 0, routed.stdout[-4000:]
    result = monitoring.deploy_monitoring(env=served_fleet.env)
    assert result.returncode == 0, output(result)
    return served_fleet


def status(fleet: Deployment, *extra: str):
    """`invoke status` against the run's manifests (what the fleet was deployed from)."""
    return monitoring.invoke_status(
        "--manifest-dir", str(fleet.manifest_dir), *extra, env=fleet.env
    )


def test_a_second_deploy_changes_nothing(monitored: Deployment) -> None:
    result = monitoring.deploy_monitoring(env=monitored.env)
    assert result.returncode == 0, output(result)
    assert totals(result)[:2] == ("-", "-"), output(result)


def test_every_target_is_up(monitored: Deployment, sandbox_fleet) -> None:
    monitoring.wait_for(
        lambda: set(monitoring.target_health().values()) == {"up"}, 90, "every target up"
    )
    health = monitoring.target_health()
    names = [h.name for h in sandbox_fleet]
    expected = {
        **{("vllm", n): "up" for n in names},
        **{("node", n): "up" for n in names},
        ("vllm-router", ROUTER.name): "up",
        ("prometheus", names[-1]): "up",
    }
    assert health == expected
    print(f"targets up: {len(health)}/{len(expected)}")


def test_the_rules_are_loaded_and_the_node_exporters_report_the_units(
    monitored: Deployment, sandbox_fleet
) -> None:
    groups = monitoring.prometheus_api("/api/v1/rules")["groups"]
    assert {r["name"] for g in groups for r in g["rules"]} >= {"VllmEndpointDown", "WeightsDiskLow"}
    restarts = monitoring.prometheus_api("/api/v1/query?query=node_systemd_service_restart_total")[
        "result"
    ]
    reported = {(r["metric"]["host"], r["metric"]["name"]) for r in restarts}
    assert {(h.name, "vllm-serve.service") for h in sandbox_fleet} <= reported
    weights = monitoring.prometheus_api("/api/v1/query?query=vllm_fleet_weights_disk_info")
    assert {r["metric"]["path"] for r in weights["result"]} == {"/var/lib/vllm-fleet"}


def test_every_vllm_metric_name_in_rules_and_dashboards_is_in_a_real_scrape(
    monitored: Deployment,
) -> None:
    """vLLM renames metrics between versions; the pinned one must export every name used."""
    url = sandbox.SandboxHost(1).url
    scraped = series_names(parse_metrics(httpx.get(f"{url}/metrics", timeout=10).text))
    missing = (used_names(VLLM_NAME) | used_names(VLLM_HTTP_NAME)) - scraped
    assert missing == set(), f"not exported by the pinned vLLM: {sorted(missing)}"


def test_every_router_metric_name_is_in_a_real_scrape(monitored: Deployment) -> None:
    """The pinned vllm-router on host 1, in front of the fleet: the names the rules and
    dashboards use."""
    scraped = series_names(parse_metrics(httpx.get(ROUTER_METRICS, timeout=10).text))
    missing = used_names(ROUTER_NAME) - scraped
    assert missing == set(), f"not exported by vllm-router: {sorted(missing)}"


def test_a_stopped_unit_fires_its_alert_and_invoke_status_says_so(
    monitored: Deployment, sandbox_fleet
) -> None:
    healthy = status(monitored)
    assert healthy.returncode == 0, output(healthy)
    victim = sandbox_fleet[1]
    timing = monitoring.seconds_to_fire(
        "VllmEndpointDown",
        lambda: monitoring.on_host(victim, "systemctl", "stop", "vllm-serve"),
    )
    print(f"VllmEndpointDown on {victim.name}: {timing}")
    # `for: 1m` on a 5 s scrape/evaluation interval: pending first, firing a minute later.
    assert 55 <= timing["firing_after_pending_s"] <= 120, timing
    down = status(monitored, "--json")
    assert down.returncode != 0
    rows = {row["host"]: row for row in json.loads(down.stdout)}
    assert rows[victim.name]["unit_state"] == "inactive" and not rows[victim.name]["ok"]
    assert "vllm-serve.service is inactive, not active" in rows[victim.name]["differences"]
    # The router host (host 1) differs too: its router holds the stopped worker, unhealthy.
    assert f"worker {victim.worker_url} unhealthy" in rows[ROUTER.name]["differences"]
    others = {victim.name, ROUTER.name}
    assert all(row["ok"] for name, row in rows.items() if name not in others), rows

    monitoring.on_host(victim, "systemctl", "start", "vllm-serve")
    monitoring.wait_for(
        lambda: httpx.get(f"{victim.url}/health", timeout=5).status_code == 200,
        300,
        "vLLM healthy again",
    )
    # The router takes it back within its health window; status checks membership too.
    monitoring.wait_for(lambda: status(monitored).returncode == 0, 60, "status clean again")
    monitoring.wait_for(
        lambda: monitoring.alert_state("VllmEndpointDown") == "inactive", 60, "alert resolved"
    )
