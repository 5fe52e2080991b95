"""The monitoring on the local sandbox: inventory/sandbox.py's last host is its `monitoring`
host, so `pyinfra inventory/sandbox.py deploy/monitoring.py` puts Prometheus there, scraping
every host's vLLM and node exporter and host 1's router by container name on the sandbox
network. Used by the slow tests (tests/monitoring/test_monitoring_sandbox.py) and
benchmarks/monitoring.py.

Prometheus answers on the monitoring host's loopback only (the default
`prometheus_listen_address`), so its HTTP API is read from inside that host (`docker exec`), as an
operator on the monitoring host would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from vllm_fleet.docker_engine import engine
from vllm_fleet.errors import FleetError
from vllm_fleet.local import sandbox
from vllm_fleet.paths import REPO_ROOT

INVOKE = Path(sys.executable).parent / "invoke"
PROMETHEUS = "http://127.0.0.1:9090"
INVENTORY = "inventory/sandbox.py"
Completed = subprocess.CompletedProcess


def monitoring_host() -> sandbox.SandboxHost:
    """The sandbox's monitoring host (the last host up)."""
    monitor = sandbox.monitoring_host()
    if monitor is None:
        raise FleetError("no sandbox host is up: run `invoke sandbox.up` first")
    return monitor


def deploy_monitoring(*extra: str, env: dict[str, str] | None = None) -> Completed:
    """`pyinfra inventory/sandbox.py deploy/monitoring.py -y` (every host up)."""
    return sandbox.run_deploy("deploy/monitoring.py", *extra, env=env)


def invoke_status(*extra: str, env: dict[str, str] | None = None) -> Completed:
    """`invoke status --inventory inventory/sandbox.py`; its stdout (the table or JSON) apart."""
    return subprocess.run(
        [str(INVOKE), "status", "--inventory", INVENTORY, *extra],
        cwd=REPO_ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )


def on_host(host: sandbox.SandboxHost, *argv: str) -> str:
    """Run a command inside a sandbox host; its output, FleetError if it fails."""
    code, output = engine().containers.get(host.container).exec_run(list(argv))
    text = output.decode(errors="replace")
    if code != 0:
        raise FleetError(f"{' '.join(argv)} on {host.container} exited {code}: {text[-500:]}")
    return text


def prometheus_api(path: str) -> Any:
    """GET Prometheus's HTTP API on the host (https://prometheus.io/docs/prometheus/latest/querying/api/)."""
    script = (
        "import sys, urllib.request; "
        "sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())"
    )
    output = on_host(monitoring_host(), "python3", "-c", script, PROMETHEUS + path)
    return json.loads(output)["data"]


def target_health() -> dict[tuple[str, str], str]:
    """(job, host) -> health of every active target ("up", "down", "unknown")."""
    return {
        (t["labels"]["job"], t["labels"].get("host", "?")): t["health"]
        for t in prometheus_api("/api/v1/targets")["activeTargets"]
    }


def alert_state(name: str) -> str:
    """The alert's state: "inactive", "pending" or "firing"."""
    states = [
        a["state"]
        for a in prometheus_api("/api/v1/alerts")["alerts"]
        if a["labels"]["alertname"] == name
    ]
    return "firing" if "firing" in states else states[0] if states else "inactive"


def prometheus_rss_bytes() -> int:
    """Resident memory of the Prometheus process on the host."""
    host = monitoring_host()
    pid = on_host(host, "systemctl", "show", "--property=MainPID", "--value", "prometheus").strip()
    for line in on_host(host, "cat", f"/proc/{pid}/status").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise FleetError(f"no VmRSS for prometheus (pid {pid})")


def wait_for(check: Callable[[], bool], timeout: float, what: str, every: float = 1.0) -> float:
    """Seconds until ``check()`` holds; FleetError after ``timeout``."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            if check():
                return time.monotonic() - started
        except (FleetError, httpx.HTTPError):
            pass  # not there yet
        time.sleep(every)
    raise FleetError(f"{what}: not within {timeout:.0f} s")


def seconds_to_fire(alert: str, stop: Callable[[], None], timeout: float = 300) -> dict[str, float]:
    """Stop something and time the alert: seconds until pending and until firing."""
    started = time.monotonic()
    stop()
    pending = wait_for(
        lambda: alert_state(alert) in ("pending", "firing"), timeout, f"{alert} pending"
    )
    firing = wait_for(lambda: alert_state(alert) == "firing", timeout, f"{alert} firing")
    return {
        "pending_s": round(pending, 1),
        "firing_s": round(time.monotonic() - started, 1),
        "firing_after_pending_s": round(firing, 1),
    }
