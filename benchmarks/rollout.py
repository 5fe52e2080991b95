"""Measure rolling changes on the sandbox fleet (docs/rolling-changes.md), for the closing note:
3 serving hosts behind the router on host 1, the demo's deploy, then, under a steady client load
through the router (--rate streaming chats a second, each judged complete):

1. a new image (the hosts' image relabelled: a new digest) rolled to every host;
2. an image whose vllm exits at start: host 1's gate fails, it rolls back, the rollout stops;
3. `invoke rollback` of every host to the image before step 1.

For each: failed requests; p50 and p99 latency during the change divided by the steady state
(the --steady-s seconds of the same load before it); seconds per host (drain to back in); and
for step 2 the time from the failed gate to the host serving the old version again.

    flock /tmp/vllm-fleet-docker.lock .venv/bin/python benchmarks/rollout.py [--rate 2]

It replaces any sandbox that is up and removes it at the end.
"""

from __future__ import annotations

import argparse
import re
import time
from collections.abc import Callable

import httpx

from sandbox_deploy import clean_sandbox, quiet
from vllm_fleet.errors import FleetError
from vllm_fleet.local import monitoring, sandbox, variants
from vllm_fleet.local.demo import run_demo
from vllm_fleet.monitoring.status import read_router_workers
from vllm_fleet.rollout.rollout import Rollout, RolloutReport
from vllm_fleet.serving.models import load_model
from vllm_fleet.smoke.load import ChatLoad, percentile

SERVED_NAME = load_model(sandbox.MODEL).served_model_name
SERVING_AGAIN = re.compile(r"serving again after (\d+) s")


def read_workers() -> dict[str, str]:
    """The router's healthy workers, from its /metrics through HAProxy."""
    with httpx.Client(timeout=5) as client:
        workers = read_router_workers(client, sandbox.ROUTER_URL) or {}
    return {url: health for url, health in workers.items() if health == "healthy"}


def measure(name: str, change: Callable[[], RolloutReport], rate: float, steady_s: float) -> None:
    error = None
    with ChatLoad(sandbox.ROUTER_URL, SERVED_NAME, rate=rate) as load:
        time.sleep(steady_s)
        began = load.now()
        try:
            report = change()
        except FleetError as err:
            report, error = None, str(err)
        ended = load.now()
        time.sleep(3)
    steady, during = load.latencies(0, began), load.latencies(began, ended)
    p50 = percentile(during, 0.5) / percentile(steady, 0.5)
    p99 = percentile(during, 0.99) / percentile(steady, 0.99)
    print(f"{name}: {ended - began:.0f} s, {len(load.failures)} of {len(load.outcomes)} failed")
    print(
        f"  latency during / steady: p50 {p50:.2f}x, p99 {p99:.2f}x "
        f"(steady p50 {percentile(steady, 0.5):.2f} s, p99 {percentile(steady, 0.99):.2f} s)"
    )
    if report:
        per_host = ", ".join(f"{h} {s:.0f} s" for h, s in report.seconds_per_host.items())
        print(f"  per host (drain to back in): {per_host}")
    if error:
        back = SERVING_AGAIN.search(error)
        print(f"  stopped: {error.splitlines()[0]}")
        print(f"  failed gate to serving the old version: {back.group(1) if back else '?'} s")
    for failure in load.failures[:3]:
        print(f"  failed request: {failure.error}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=2.0, help="requests a second (default 2)")
    parser.add_argument("--steady-s", type=float, default=30.0, help="steady state before each")
    args = parser.parse_args()
    with clean_sandbox():
        fleet = sandbox.up(3, log=quiet)
        run_demo(log=quiet)
        routed = sandbox.run_deploy(
            "deploy/router.py", "--limit", sandbox.SandboxHost(sandbox.ROUTER_HOST_INDEX).name
        )
        if routed.returncode != 0:
            raise SystemExit(routed.stdout[-4000:])
        monitoring.wait_for(
            lambda: len(read_workers()) == len(fleet), 120, "every host in rotation"
        )
        first = variants.recorded_image(fleet[0])
        new, broken = (
            variants.relabelled(first, "bench-b"),
            variants.failing_at_start(first, "bench-c"),
        )
        inventory = sandbox.SANDBOX_INVENTORY

        def roll(*data: str) -> Callable[[], RolloutReport]:
            return lambda: Rollout(inventory, data, log=quiet).roll_out()

        measure("new image, 3 hosts", roll(f"image={new}"), args.rate, args.steady_s)
        measure("image failing at start", roll(f"image={broken}"), args.rate, args.steady_s)
        measure(
            "rollback, 3 hosts",
            lambda: Rollout(inventory, log=quiet).roll_back(),
            args.rate,
            args.steady_s,
        )


if __name__ == "__main__":
    main()
