"""Measure the smoke suite on this machine: the full suite against a ready CPU vLLM server, and
against a server that is still starting (``--wait``: start-up included). Numbers go in the
closing note.

    .venv/bin/python benchmarks/smoke_timing.py [--image vllm-fleet/cpu:0.32.0-<rev>]
                                                [--starts 2] [--runs 5]

The server is the tests' good server (tests/vllm_fixtures.py: models/kimi-tiny.yaml's flags)
serving the tiny model, built once into build/kimi-tiny (reused while the cases and trainer are
unchanged). Each start is a fresh container; the suite is called right after `docker run`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from vllm_fixtures import SERVED_NAME, start_server
from vllm_fleet.docker_engine import engine
from vllm_fleet.local.tinymodel import build_tiny_model
from vllm_fleet.paths import BUILD_DIR
from vllm_fleet.smoke import SmokeReport, run_smoke


def newest_cpu_image() -> str:
    images = engine().images.list(name="vllm-fleet/cpu")
    if not images:
        raise SystemExit("no vllm-fleet/cpu image: run `invoke build --target cpu` first")
    newest = max(images, key=lambda image: image.attrs["Created"])
    return newest.tags[0]


def checked(report: SmokeReport) -> SmokeReport:
    if not report.passed:
        failed = {c.name: c.detail for c in report.failed}
        raise SystemExit(f"the suite failed, figures would mean nothing: {failed}")
    return report


def one_start(image: str, model_dir: Path, runs: int) -> tuple[float, float, list[float]]:
    """(suite wall time with --wait from `docker run`, of which waiting, ready-suite times)."""
    server = start_server(engine(), image, model_dir)
    try:
        cold = checked(run_smoke(server.url, SERVED_NAME, wait=600))
        reports = [checked(run_smoke(server.url, SERVED_NAME)) for _ in range(runs)]
    finally:
        server.stop()
    for report in [cold, *reports]:
        slowest = max(report.checks, key=lambda check: check.seconds)
        if slowest.seconds > 1:
            print(f"  slow run: {slowest.name} took {slowest.seconds:.1f} s")
    return cold.seconds, cold.waited, [report.seconds for report in reports]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", help="cpu serving image (default: the newest vllm-fleet/cpu)")
    parser.add_argument("--starts", type=int, default=2, help="fresh servers to time --wait on")
    parser.add_argument("--runs", type=int, default=5, help="suite runs per ready server")
    args = parser.parse_args()
    image = args.image or newest_cpu_image()

    started = time.monotonic()
    model_dir = build_tiny_model(image, BUILD_DIR / "kimi-tiny")
    print(f"image {image}; tiny model ready in {time.monotonic() - started:.1f} s")
    colds, waits, readies = [], [], []
    for start in range(1, args.starts + 1):
        cold, waited, ready = one_start(image, model_dir, args.runs)
        colds.append(cold)
        waits.append(waited)
        readies += ready
        print(
            f"start {start}: --wait suite {cold:.1f} s (waiting {waited:.1f} s, checks "
            f"{cold - waited:.2f} s); ready suite {', '.join(f'{s:.2f}' for s in ready)} s"
        )
    print(
        f"full suite, ready server: median {statistics.median(readies):.2f} s "
        f"(min {min(readies):.2f}, max {max(readies):.2f}, n={len(readies)})"
    )
    print(
        f"full suite with --wait, server not yet ready: median {statistics.median(colds):.1f} s "
        f"(of which waiting for /health {statistics.median(waits):.1f} s; n={len(colds)})"
    )


if __name__ == "__main__":
    main()
