"""Measure the monitoring on the sandbox fleet, for the monitoring issue's closing note:

- targets up (of all Prometheus scrapes);
- seconds from a host's vLLM unit stopping to VllmEndpointDown pending, and to firing (its
  `for: 1m` on the sandbox's 5 s scrape/evaluation interval);
- `invoke status` wall time (median of 5 runs) for the fleet's hosts;
- Prometheus's resident memory on the monitoring host.

    flock /tmp/vllm-fleet-docker.lock .venv/bin/python benchmarks/monitoring.py [--hosts 3] [--keep]

It brings up a sandbox of --hosts hosts, runs the demo (build, push, deploy every host, smoke),
deploys the router (host 1) and the monitoring (Prometheus on the last host), measures, and
removes the sandbox unless --keep.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import httpx

from vllm_fleet.local import monitoring, sandbox
from vllm_fleet.local.demo import run_demo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=3, help="sandbox hosts (default 3)")
    parser.add_argument("--keep", action="store_true", help="leave the sandbox up")
    args = parser.parse_args()
    sandbox.up(args.hosts, log=lambda _line: None)
    try:
        run_demo(log=lambda _line: None)
        print(json.dumps(measure(), indent=2))
    finally:
        if not args.keep:
            sandbox.down(log=lambda _line: None)


def measure() -> dict:
    routed = sandbox.run_deploy("deploy/router.py")
    if routed.returncode != 0:
        raise SystemExit(routed.stdout[-4000:])
    started = time.monotonic()
    deployed = monitoring.deploy_monitoring()
    if deployed.returncode != 0:
        raise SystemExit(deployed.stdout[-4000:])
    first_deploy_s = time.monotonic() - started
    monitoring.wait_for(
        lambda: set(monitoring.target_health().values()) == {"up"}, 120, "every target up"
    )
    health = monitoring.target_health()
    hosts = len(json.loads(monitoring.invoke_status("--json").stdout or "[]"))
    status_s = []
    for _ in range(5):
        started = time.monotonic()
        monitoring.invoke_status()
        status_s.append(time.monotonic() - started)
    rss = monitoring.prometheus_rss_bytes()
    victim = sandbox.hosts_up()[0]
    alert = monitoring.seconds_to_fire(
        "VllmEndpointDown", lambda: monitoring.on_host(victim, "systemctl", "stop", "vllm-serve")
    )
    monitoring.on_host(victim, "systemctl", "start", "vllm-serve")
    monitoring.wait_for(
        lambda: httpx.get(f"{victim.url}/health", timeout=5).status_code == 200,
        300,
        "vLLM healthy again",
    )
    return {
        "first_monitoring_deploy_s": round(first_deploy_s, 1),
        "targets_up": f"{sum(h == 'up' for h in health.values())}/{len(health)}",
        "targets": {f"{job} {host}": state for (job, host), state in health.items()},
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
