"""Measure the router on this machine: two real vLLM servers (the tiny model in the cpu image),
vllm-router + the worker reconciler + HAProxy in front of them (vllm_fleet.local.router: the
files the deploy installs, on loopback ports). Numbers go in the closing note.

1. the smoke suite through the router (every check, tool_call_stream included);
2. the `small` bench preset straight to one host and through the router, in the same run:
   mean/median TTFT and output throughput, and the router's difference in %;
3. one of the two hosts stopped (`docker stop`: SIGTERM, as `systemctl stop` does) during a
   bounded stream of requests through the router: how many failed, and how long the dead
   host stayed in rotation (vllm_router_worker_health still 1 after the stop).

    flock /tmp/vllm-fleet-docker.lock .venv/bin/python benchmarks/router_bench.py \
        [--image vllm-fleet/cpu:0.32.0-<rev>] [--requests 60]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from smoke_timing import newest_cpu_image
from vllm_fixtures import SERVED_NAME, start_server
from vllm_fleet.bench.presets import get_preset
from vllm_fleet.bench.runner import run_bench
from vllm_fleet.docker_engine import engine
from vllm_fleet.local.router import LocalRouter
from vllm_fleet.local.tinymodel import build_tiny_model
from vllm_fleet.paths import BUILD_DIR
from vllm_fleet.smoke import run_smoke

FIGURES = (
    ("mean_ttft_ms", "mean TTFT (ms)"),
    ("median_ttft_ms", "median TTFT (ms)"),
    ("output_throughput", "output tok/s"),
)


def smoke_through(router: LocalRouter) -> None:
    report = run_smoke(router.url, SERVED_NAME)
    for check in report.checks:
        print(f"  smoke {check.name}: {'pass' if check.passed else 'FAIL'} ({check.detail})")
    if not report.passed:
        raise SystemExit("the smoke suite failed through the router; figures would mean nothing")


def bench_pair(direct: str, router: LocalRouter, image: str, model_dir: Path) -> None:
    preset = get_preset("small")
    with tempfile.TemporaryDirectory() as out:
        runs = {
            name: run_bench(
                url, SERVED_NAME, preset, Path(out), image, tokenizer=str(model_dir), label=name
            ).result
            for name, url in (("direct", direct), ("router", router.url))
        }
    for key, label in FIGURES:
        d, r = runs["direct"].value(key), runs["router"].value(key)
        print(f"  {label:<18} direct {d:9.2f}  router {r:9.2f}  ({(r - d) / d * 100:+.1f}%)")


def failover(router: LocalRouter, victim, requests: int) -> None:
    """Requests one after another through the router; the victim stops after a third."""
    failures: list[str] = []
    stopped_at: list[float] = []
    out_at: list[float] = []

    def watch() -> None:
        while not stopped_at:
            time.sleep(0.05)
        while time.monotonic() - stopped_at[0] < 120:
            if router.worker_health().get(victim_url) == 0:
                out_at.append(time.monotonic())
                return
            time.sleep(0.1)

    victim_url = victim.url
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    body = {
        "model": SERVED_NAME,
        "messages": [{"role": "user", "content": "What is 2+2?"}],
        "max_tokens": 64,
        "temperature": 0,
    }
    with httpx.Client(timeout=120) as client:
        for i in range(requests):
            if i == requests // 3:
                threading.Thread(
                    target=lambda: (
                        stopped_at.append(time.monotonic()),
                        victim.container.stop(timeout=30),
                    ),
                    daemon=True,
                ).start()
            response = client.post(f"{router.url}/v1/chat/completions", json=body)
            if response.status_code != 200:
                failures.append(f"{response.status_code} {response.text[:120]}")
    watcher.join(timeout=130)
    print(f"  {requests} requests while one of two hosts stopped: {len(failures)} failed")
    for failure in failures[:5]:
        print(f"    {failure}")
    if out_at:
        print(
            f"  the stopped host stayed in rotation {out_at[0] - stopped_at[0]:.1f} s after "
            f"`docker stop` began (interval {router.spec.settings.router_health_interval_s} s "
            f"x {router.spec.settings.router_health_failures} failures)"
        )
    else:
        print("  the stopped host was still in rotation 120 s later")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", help="cpu serving image (default: the newest vllm-fleet/cpu)")
    parser.add_argument("--requests", type=int, default=60, help="requests in the failover run")
    parser.add_argument(
        "--policy",
        default="cache_aware",
        help="vllm-router --policy (cache_aware first asks the worker to render "
        "each request: POST /v1/.../render)",
    )
    args = parser.parse_args()
    image = args.image or newest_cpu_image()
    model_dir = build_tiny_model(image, BUILD_DIR / "kimi-tiny")
    servers = [start_server(engine(), image, model_dir) for _ in range(2)]
    try:
        for server in servers:
            server.wait_ready()
        print(f"image {image}; hosts {[s.url for s in servers]}")
        with LocalRouter.start([s.url for s in servers], policy=args.policy) as router:
            print(f"policy {args.policy}")
            print(
                f"router {router.url}: both workers added "
                f"{router.wait_for_workers(2):.1f} s after it started"
            )
            smoke_through(router)
            bench_pair(servers[0].url, router, image, model_dir)
            failover(router, servers[1], args.requests)
    finally:
        for server in servers:
            server.stop()


if __name__ == "__main__":
    main()
