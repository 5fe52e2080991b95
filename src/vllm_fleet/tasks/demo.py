"""invoke demo: build -> deploy -> smoke on this machine, no GPU needed."""

from __future__ import annotations

from invoke import Collection, Exit, task
from rich.console import Console

from vllm_fleet.errors import FleetError
from vllm_fleet.local.demo import run_demo
from vllm_fleet.progress import Progress


@task
def demo(c):
    """The whole pipeline on this machine: cpu image, tiny Kimi-format model behind a local hub,
    the sandbox host over SSH, `pyinfra inventory/sandbox.py deploy/serve.py`, then smoke."""
    progress = Progress()  # a status line on a terminal, a heartbeat every 15 s elsewhere
    try:
        with progress.ticking():
            result = run_demo(log=progress.line, progress=progress)
    except FleetError as err:
        raise Exit(str(err)) from None
    Console().print(result.smoke.table())
    print("\n".join(result.summary()))


ns = Collection(demo)
