"""Measure the `cpu` image pipeline: cold build, no-op rebuild, rebuild after a serve-config
change, rebuild after a vLLM version change. Prints a table; numbers go in the closing note.

    .venv/bin/python benchmarks/image_build.py [--cold] [--other-vllm 0.31.0]

--cold removes every vllm-fleet cpu image and the builder's intermediate layers first (it does
not touch other images). Serve flags and env vars are not inputs of the image at all (they live in
models/ and inventory/; tests/images/test_render.py checks no render carries them), so the
rebuild after changing one is a rebuild of unchanged inputs.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from vllm_fleet.docker_engine import engine
from vllm_fleet.images.build import BuildResult, build_image
from vllm_fleet.images.matrix import Matrix, Target
from vllm_fleet.images.site import site_build_options
from vllm_fleet.local.localbase import ensure_local_base


def build(target: Target, build_dir: Path) -> BuildResult:
    return build_image(target, site_build_options(), log=lambda _line: None, build_dir=build_dir)


def remove_cpu_images() -> None:
    client = engine()
    for image in client.images.list(filters={"label": "ai.vllm-fleet.target=cpu"}):
        client.images.remove(image.id, force=True)
    client.images.prune(filters={"dangling": True})


def size_gb(image_id: str) -> float:
    return engine().images.get(image_id).attrs["Size"] / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", action="store_true", help="remove cpu images first")
    parser.add_argument("--other-vllm", default="0.31.0", help="vLLM version for the last run")
    args = parser.parse_args()

    base = ensure_local_base(log=lambda _line: None)
    target = Matrix().target("cpu").with_overrides(base_image=base)
    rows = []
    with tempfile.TemporaryDirectory() as build_dir:
        if args.cold:
            remove_cpu_images()
        first = build(target, Path(build_dir))
        rows.append(("cold build" if args.cold else "first build (warm cache)", first))
        rows.append(("rebuild, serve flags/env changed", build(target, Path(build_dir))))
        other = target.with_overrides(vllm_version=args.other_vllm)
        rows.append((f"rebuild with vLLM {args.other_vllm}", build(other, Path(build_dir))))

    print(f"{'run':42} {'seconds':>8} {'steps':>6} {'cached':>7} {'size GB':>8}")
    for name, result in rows:
        print(
            f"{name:42} {result.seconds:8.1f} {result.steps:6d} {result.cached_steps:7d} "
            f"{size_gb(result.image_id):8.2f}"
        )


if __name__ == "__main__":
    main()
