"""How the benchmarks run the operator's deploy on the sandbox: `pyinfra inventory/sandbox.py
deploy/serve.py -y` with the given options, timed; a failed run stops the benchmark with the
end of pyinfra's output. Also the sandbox each benchmark starts from and leaves behind."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from vllm_fleet.local import sandbox
from vllm_fleet.local.demo import build_cpu_image


def quiet(_line: str) -> None:
    """A log that prints nothing: the benchmarks print only their figures."""


@contextmanager
def clean_sandbox() -> Iterator[str]:
    """Build the cpu image (its reference is given), remove any sandbox that is up, and remove
    the sandbox again when the block ends, failed or not."""
    image = build_cpu_image(quiet)
    sandbox.down(log=quiet)
    try:
        yield image
    finally:
        sandbox.down(log=quiet)


def deploy(
    *options: str,
    env: dict[str, str] | None = None,
    deploy_file: str = "deploy/serve.py",
    inventory: Path = sandbox.SANDBOX_INVENTORY,
) -> float:
    """Seconds the deploy took."""
    started = time.monotonic()
    proc = sandbox.run_deploy(deploy_file, *options, env=env, inventory=inventory)
    if proc.returncode != 0:
        what = " ".join(options) or "(every host)"
        raise SystemExit(f"{deploy_file} {what} ({inventory.name}) failed:\n{proc.stdout[-3000:]}")
    return time.monotonic() - started


def limited_to(*hosts: str) -> list[str]:
    """pyinfra's options that limit a run to ``hosts`` (none: every host that is up)."""
    return [arg for name in hosts for arg in ("--limit", name)]
