"""Measure the router on the sandbox fleet: --hosts sandbox hosts serving the tiny model (the demo
deploys them), vllm-router + the worker reconciler + HAProxy deployed on host 1 by
`pyinfra inventory/sandbox.py deploy/router.py`. Numbers go in the closing note.

1. the smoke suite through the router (every check, tool_call_stream included);
2. the `small` bench preset straight to one host and through the router, in the same run:
   mean/median TTFT and output throughput, and the router's difference in %;
3. the last host's unit stopped (`systemctl stop`) during a bounded run of requests through the
   router: how many failed, and how long the stopped host stayed in rotation.

    flock /tmp/vllm-fleet-docker.lock .venv/bin/python benchmarks/router_bench.py \
        [--hosts 3] [--policy cache_aware] [--requests 60] [--keep]
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

import httpx

from vllm_fleet.bench.presets import get_preset
from vllm_fleet.bench.runner import run_bench
from vllm_fleet.images.manifest import load_manifest, manifest_path
from vllm_fleet.local import monitoring, sandbox
from vllm_fleet.local.demo import run_demo
from vllm_fleet.monitoring.status import read_router_workers
from vllm_fleet.serving.models import load_model
from vllm_fleet.smoke import run_smoke

SERVED_NAME = load_model(sandbox.MODEL).served_model_name
FIGURES = (
    ("mean_ttft_ms", "mean TTFT (ms)"),
    ("median_ttft_ms", "median TTFT (ms)"),
    ("output_throughput", "output tok/s"),
)


def smoke_through_router() -> None:
    report = run_smoke(sandbox.ROUTER_URL, SERVED_NAME)
    for check in report.checks:
        print(f"  smoke {check.name}: {'pass' if check.passed else 'FAIL'} ({check.detail})")
    if not report.passed:
        raise SystemExit("the smoke suite failed through the router; figures would mean nothing")


def bench_pair(direct: str) -> None:
    preset = get_preset("small")
    image = load_manifest(manifest_path("cpu")).tags[0]
    with tempfile.TemporaryDirectory() as out:
        runs = {
            name: run_bench(
                url,
                SERVED_NAME,
                preset,
                Path(out),
                image,
                tokenizer=str(sandbox.TINY_MODEL_DIR),
                label=name,
            ).result
            for name, url in (("direct", direct), ("router", sandbox.ROUTER_URL))
        }
    for key, label in FIGURES:
        d, r = runs["direct"].value(key), runs["router"].value(key)
        print(f"  {label:<18} direct {d:9.2f}  router {r:9.2f}  ({(r - d) / d * 100:+.1f}%)")


def worker_health(worker: str) -> str | None:
    with httpx.Client(timeout=5) as client:
        return (read_router_workers(client, sandbox.ROUTER_URL) or {}).get(worker)


def failover(victim: sandbox.SandboxHost, requests: int) -> None:
    """Requests one after another through the router; the victim's unit stops after a third."""
    worker = victim.worker_url
    failures: list[str] = []
    stopped_at: list[float] = []
    out_at: list[float] = []

    def stop_and_watch() -> None:
        stopped_at.append(time.monotonic())
        threading.Thread(
            target=monitoring.on_host, args=(victim, "systemctl", "stop", "vllm-serve")
        ).start()
        while time.monotonic() - stopped_at[0] < 120:
            if worker_health(worker) == "unhealthy":
                out_at.append(time.monotonic())
                return
            time.sleep(0.1)

    watcher = threading.Thread(target=stop_and_watch, daemon=True)
    body = {
        "model": SERVED_NAME,
        "messages": [{"role": "user", "content": "What is 2+2?"}],
        "max_tokens": 64,
        "temperature": 0,
    }
    with httpx.Client(timeout=120) as client:
        for i in range(requests):
            if i == requests // 3:
                watcher.start()
            response = client.post(f"{sandbox.ROUTER_URL}/v1/chat/completions", json=body)
            if response.status_code != 200:
                failures.append(f"{response.status_code} {response.text[:120]}")
    watcher.join(timeout=130)
    print(f"  {requests} requests while {victim.name} stopped: {len(failures)} failed")
    for failure in failures[:5]:
        print(f"    {failure}")
    if out_at:
        print(f"  {victim.name} left rotation {out_at[0] - stopped_at[0]:.1f} s after the stop")
    else:
        print(f"  {victim.name} was still in rotation 120 s later")
    monitoring.on_host(victim, "systemctl", "start", "vllm-serve")
    monitoring.wait_for(
        lambda: httpx.get(f"{victim.url}/health", timeout=5).status_code == 200, 300, "healthy"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=3, help="sandbox hosts (default 3)")
    parser.add_argument("--requests", type=int, default=60, help="requests in the failover run")
    parser.add_argument(
        "--policy",
        default="cache_aware",
        help="vllm-router --policy (cache_aware first asks the worker to render "
        "each request: POST /v1/.../render)",
    )
    parser.add_argument("--keep", action="store_true", help="leave the sandbox up")
    args = parser.parse_args()
    fleet = sandbox.up(args.hosts, log=lambda _line: None)
    try:
        run_demo(log=lambda _line: None)
        started = time.monotonic()
        routed = sandbox.run_deploy("deploy/router.py", "--data", f"router_policy={args.policy}")
        if routed.returncode != 0:
            raise SystemExit(routed.stdout[-4000:])
        print(f"policy {args.policy}; router deploy {time.monotonic() - started:.0f} s")
        monitoring.wait_for(
            lambda: all(worker_health(h.worker_url) == "healthy" for h in fleet),
            120,
            "every host in rotation",
        )
        smoke_through_router()
        bench_pair(fleet[0].url)
        failover(fleet[-1], args.requests)
    finally:
        if not args.keep:
            sandbox.down(log=lambda _line: None)


if __name__ == "__main__":
    main()
