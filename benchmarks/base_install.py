"""Measure the operator's base install: `pip install .` into a fresh venv, its wall time and the
venv's size on disk (`du -sh`), optionally with extras.

    .venv/bin/python benchmarks/base_install.py                   # this checkout, no extras
    .venv/bin/python benchmarks/base_install.py --source ../main  # another checkout (before/after)
    .venv/bin/python benchmarks/base_install.py --extras eval,bench

pip's own cache is used as it is (a warm cache measures resolving, unpacking and byte-compiling,
not the network); --no-cache measures a cold download too. The venv is removed afterwards.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def fresh_venv(where: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True)
    return where / "bin" / "pip"


def timed_install(pip: Path, requirement: str, no_cache: bool) -> float:
    argv = [str(pip), "install", "--quiet", "--disable-pip-version-check", requirement]
    if no_cache:
        argv.append("--no-cache-dir")
    started = time.monotonic()
    subprocess.run(argv, check=True)
    return time.monotonic() - started


def disk_usage(path: Path) -> str:
    return subprocess.run(
        ["du", "-sh", str(path)], capture_output=True, text=True, check=True
    ).stdout.split()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=REPO_ROOT, help="checkout to install")
    parser.add_argument("--extras", default="", help="comma-separated extras, e.g. eval,bench")
    parser.add_argument("--no-cache", action="store_true", help="bypass pip's cache")
    args = parser.parse_args()

    requirement = str(args.source.resolve()) + (f"[{args.extras}]" if args.extras else "")
    with tempfile.TemporaryDirectory(prefix="vllm-fleet-base-") as tmp:
        venv = Path(tmp) / "venv"
        pip = fresh_venv(venv)
        empty = disk_usage(venv)
        seconds = timed_install(pip, requirement, args.no_cache)
        print(f"pip install {requirement}")
        print(f"  install time: {seconds:.0f} s ({'cold' if args.no_cache else 'warm'} pip cache)")
        print(f"  venv size:    {disk_usage(venv)} (empty venv: {empty})")


if __name__ == "__main__":
    main()
