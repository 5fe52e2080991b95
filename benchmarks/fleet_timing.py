"""Measure the sandbox fleet and its registry path, for the fleet issue's closing note:

- the push of the cpu image to an empty sandbox registry, and a push with nothing new;
- the first deploy of 1 fresh host, then of 3 fresh hosts (hosts 2-4, added with `up`);
- the no-op redeploy of 4 hosts against 1 host, in the same run (goal: at most 1.5x).

    .venv/bin/python benchmarks/fleet_timing.py [--repeat 2]

It replaces any sandbox that is up (it runs `invoke sandbox.down` first), and removes it at the
end. Run it under the shared Docker lock: flock /tmp/vllm-fleet-docker.lock ...
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from sandbox_deploy import clean_sandbox, deploy, limited_to, quiet
from vllm_fleet.images.push import push_target
from vllm_fleet.local import sandbox
from vllm_fleet.local.sandbox import registry


def timed(action: Callable[[], object]) -> float:
    started = time.monotonic()
    action()
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=2, help="no-op redeploys of each size")
    repeat = parser.parse_args().repeat
    rows: list[tuple[str, float]] = []
    with clean_sandbox():
        rows.append(("sandbox.up --hosts 1 (clean)", timed(lambda: sandbox.up(1, log=quiet))))
        rows.append(
            (
                "push to an empty registry",
                timed(lambda: push_target("cpu", registry.LOCAL_ADDRESS, log=quiet)),
            )
        )
        rows.append(
            (
                "push again (nothing new)",
                timed(lambda: push_target("cpu", registry.LOCAL_ADDRESS, log=quiet)),
            )
        )
        rows.append(("first deploy, 1 host", deploy()))
        rows.append(("sandbox.up --hosts 4 (adds 3)", timed(lambda: sandbox.up(4, log=quiet))))
        rows.append(
            ("first deploy, 3 hosts", deploy(*limited_to("sandbox-2", "sandbox-3", "sandbox-4")))
        )
        one, four = [], []
        for _ in range(repeat):  # interleaved, so both see the same machine load
            one.append(deploy(*limited_to("sandbox-1")))
            four.append(deploy())
        rows += [
            ("no-op redeploy, 1 host (median)", statistics.median(one)),
            ("no-op redeploy, 4 hosts (median)", statistics.median(four)),
        ]
    for name, seconds in rows:
        print(f"{name:36} {seconds:7.1f} s")
    ratio = statistics.median(four) / statistics.median(one)
    print(f"no-op redeploy 4 hosts / 1 host: {ratio:.2f}x (goal <= 1.5x)")


if __name__ == "__main__":
    main()
