"""The monitoring on the local sandbox: the sandbox host also in the `monitoring` group, so its
Prometheus scrapes its own vLLM, node exporter and itself. Used by the slow tests
(tests/monitoring/test_monitoring_sandbox.py) and benchmarks/monitoring.py.

Prometheus answers on the host's loopback only (the default `prometheus_listen_address`), so its
HTTP API is read from inside the host (`docker exec`), as an operator on the monitoring host would.
"""

from __future__ import annotations

import json
import shutil
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
from vllm_fleet.paths import INVENTORY_DIR, REPO_ROOT

PYINFRA = Path(sys.executable).parent / "pyinfra"
INVOKE = Path(sys.executable).parent / "invoke"
# Fast enough for a test to see an alert go pending and fire within minutes.
SCRAPE_INTERVAL = "5s"
PROMETHEUS = "http://127.0.0.1:9090"


def monitored_inventory(folder: Path) -> Path:
    """inventory/sandbox.py with its host also in `monitoring`, and the repository's group data
    beside it (so `invoke status --inventory` and pyinfra read the same data)."""
    shutil.copytree(INVENTORY_DIR / "group_data", folder / "group_data", dirs_exist_ok=True)
    (folder / "group_data" / "monitoring.py").write_text(
        f'"""The sandbox host as its own monitoring host."""\n\n'
        f'prometheus_scrape_interval = "{SCRAPE_INTERVAL}"\n'
    )
    path = folder / "sandbox.py"
    path.write_text(
        (INVENTORY_DIR / "sandbox.py").read_text()
        + "\n# The same host, also the monitoring host.\n"
        + "monitoring = [sandbox[0][0]]\n"
    )
    return path


def deploy_monitoring(inventory: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(PYINFRA), str(inventory), "deploy/monitoring.py", "-y", *extra],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=1200,
    )


def invoke_status(inventory: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(INVOKE), "status", "--inventory", str(inventory), *extra],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def on_host(*argv: str) -> str:
    """Run a command inside the sandbox host; its output, FleetError if it fails."""
    code, output = engine().containers.get(sandbox.CONTAINER).exec_run(list(argv))
    text = output.decode(errors="replace")
    if code != 0:
        raise FleetError(f"{' '.join(argv)} on {sandbox.CONTAINER} exited {code}: {text[-500:]}")
    return text


def prometheus_api(path: str) -> Any:
    """GET Prometheus's HTTP API on the host (https://prometheus.io/docs/prometheus/latest/querying/api/)."""
    script = (
        "import sys, urllib.request; "
        "sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())"
    )
    return json.loads(on_host("python3", "-c", script, PROMETHEUS + path))["data"]


def target_health() -> dict[str, str]:
    """job -> health of every active target ("up", "down", "unknown")."""
    return {
        t["labels"]["job"]: t["health"] for t in prometheus_api("/api/v1/targets")["activeTargets"]
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
    pid = on_host("systemctl", "show", "--property=MainPID", "--value", "prometheus").strip()
    for line in on_host("cat", f"/proc/{pid}/status").splitlines():
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


def same_host_inventory(folder: Path, count: int) -> Path:
    """``count`` inventory hosts that are all the one sandbox host (each its own SSH session and
    HTTP reads): what `invoke status` does for ``count`` hosts, until a multi-host sandbox."""
    shutil.copytree(INVENTORY_DIR / "group_data", folder / "group_data", dirs_exist_ok=True)
    path = folder / "sandbox.py"
    path.write_text(
        (INVENTORY_DIR / "sandbox.py").read_text()
        + (
            "\n_name, _data = sandbox[0]\n"
            f"sandbox = [(f'sandbox-{{n}}', {{**_data, 'ssh_hostname': _name,\n"
            "                                'vllm_url': f'http://{_name}:8000'})\n"
            f"           for n in range(1, {count + 1})]\n"
        )
    )
    return path
