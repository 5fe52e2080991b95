"""Measure the deploy on the sandbox host, for the deploy issue's closing note:

- first deploy onto a fresh host (the image pulled from the sandbox registry), and a no-op
  redeploy (benchmarks/fleet_timing.py measures several hosts);
- the unit's time-to-ready against a bare `docker run` of the same command, image, model and
  caches in the same host (goal: at most 1.05x);
- restart-to-ready against first-start-to-ready with the compile cache (VLLM_CACHE_ROOT)
  persisted on the host (goal: at most 0.5x). The tiny model's profile runs --enforce-eager
  (no compile), so this part turns torch.compile on with a host override.

    .venv/bin/python benchmarks/deploy_timing.py

It replaces any sandbox that is up, and removes it at the end.
"""

from __future__ import annotations

import shlex
import subprocess
import time

import httpx

from sandbox_deploy import clean_sandbox, deploy, quiet
from vllm_fleet.images.push import push_target
from vllm_fleet.local import sandbox
from vllm_fleet.local.sandbox import registry
from vllm_fleet.paths import INVENTORY_DIR
from vllm_fleet.serving.inventory import load_inventory
from vllm_fleet.serving.plan import Planner
from vllm_fleet.serving.units import command

HEALTH = f"{sandbox.SandboxHost(1).url}/health"
COMPILE = 'serve_flags={"enforce-eager": false}'


def on_host(script: str) -> None:
    subprocess.run(
        ["docker", "exec", sandbox.SandboxHost(1).container, "sh", "-c", script],
        check=True,
        capture_output=True,
    )


def ready_after(start: str) -> float:
    """Seconds from running ``start`` on the host to /health answering 200."""
    started = time.monotonic()
    on_host(start)
    while True:
        try:
            if httpx.get(HEALTH, timeout=2).status_code == 200:
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.25)


def main() -> None:
    with clean_sandbox():
        sandbox.up(1, log=quiet)  # the registry, and the hub serving the tiny model
        push_target("cpu", registry.LOCAL_ADDRESS, log=quiet)
        spec = Planner().spec(load_inventory(INVENTORY_DIR / "sandbox.py")[0])
        rows = [("first deploy (fresh host)", deploy()), ("no-op redeploy", deploy())]
        unit = ready_after("systemctl restart vllm-serve")
        on_host("systemctl stop vllm-serve")
        bare = ready_after(f"nohup {shlex.join(command(spec))} >/tmp/bare.log 2>&1 &")
        on_host("docker rm -f vllm-serve")
        rows += [("unit restart to ready (eager)", unit), ("bare docker run to ready", bare)]
        deploy("--data", COMPILE)  # torch.compile on: the unit changes, one restart
        on_host("systemctl stop vllm-serve && rm -rf /var/lib/vllm-fleet/vllm-cache/*")
        cold = ready_after("systemctl start vllm-serve")
        warm = ready_after("systemctl restart vllm-serve")
        rows += [
            ("first start, empty compile cache", cold),
            ("restart, persisted compile cache", warm),
        ]
    for name, seconds in rows:
        print(f"{name:36} {seconds:7.1f} s")
    print(f"unit / bare time-to-ready: {unit / bare:.2f}x (goal <= 1.05x)")
    print(f"restart / first start with compile cache: {warm / cold:.2f}x (goal <= 0.5x)")


if __name__ == "__main__":
    main()
