"""Measure the monitoring on the sandbox, for the monitoring issue's closing note:

- targets up (of all Prometheus scrapes);
- seconds from the vLLM unit stopping to VllmEndpointDown pending, and to firing (its `for: 1m`
  on a 5 s scrape/evaluation interval);
- `invoke status` wall time (median of 5 runs) for 3 hosts: until the multi-host sandbox, three
  inventory hosts that are the one sandbox host (three SSH sessions and three sets of HTTP
  reads), or the hosts of --status-inventory;
- Prometheus's resident memory on the monitoring host.

    flock /tmp/vllm-fleet-docker.lock .venv/bin/python benchmarks/monitoring.py [--keep]

It runs the demo (build, sandbox host, deploy, smoke), makes the sandbox host its own monitoring
host (vllm_fleet.local.monitoring), deploys deploy/monitoring.py, measures, and removes the
sandbox unless --keep.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from vllm_fleet.local import monitoring, sandbox
from vllm_fleet.local.demo import run_demo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="leave the sandbox up")
    parser.add_argument("--status-inventory", help="time `invoke status` on this inventory")
    args = parser.parse_args()
    run_demo(log=lambda _line: None)
    try:
        print(json.dumps(measure(args.status_inventory), indent=2))
    finally:
        if not args.keep:
            sandbox.down(sandbox.config_from_inventory(), log=lambda _line: None)


def measure(status_inventory: str | None) -> dict:
    inventory = monitoring.monitored_inventory(Path(tempfile.mkdtemp(prefix="monitored-")))
    started = time.monotonic()
    deployed = monitoring.deploy_monitoring(inventory)
    if deployed.returncode != 0:
        raise SystemExit(deployed.stdout[-4000:])
    first_deploy_s = time.monotonic() - started
    monitoring.wait_for(
        lambda: set(monitoring.target_health().values()) == {"up"}, 120, "every target up"
    )
    health = monitoring.target_health()
    timed = (
        Path(status_inventory)
        if status_inventory
        else monitoring.same_host_inventory(Path(tempfile.mkdtemp(prefix="three-")), 3)
    )
    hosts = len(json.loads(monitoring.invoke_status(timed, "--json").stdout or "[]"))
    status_s = []
    for _ in range(5):
        started = time.monotonic()
        monitoring.invoke_status(timed)
        status_s.append(time.monotonic() - started)
    rss = monitoring.prometheus_rss_bytes()
    alert = monitoring.seconds_to_fire(
        "VllmEndpointDown", lambda: monitoring.on_host("systemctl", "stop", "vllm-serve")
    )
    monitoring.on_host("systemctl", "start", "vllm-serve")
    monitoring.wait_for(
        lambda: httpx.get("http://127.0.0.1:8000/health", timeout=5).status_code == 200,
        300,
        "vLLM healthy again",
    )
    return {
        "first_monitoring_deploy_s": round(first_deploy_s, 1),
        "targets_up": f"{sum(h == 'up' for h in health.values())}/{len(health)}",
        "targets": health,
        "scrape_interval": monitoring.SCRAPE_INTERVAL,
        "unit_stop_to_alert": alert,
        "invoke_status": {
            "hosts": hosts,
            "median_s": round(statistics.median(status_s), 2),
            "runs_s": [round(s, 2) for s in status_s],
        },
        "prometheus_rss_mib": round(rss / 2**20, 1),
    }


if __name__ == "__main__":
    main()
