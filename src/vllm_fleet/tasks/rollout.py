"""The `rollout` and `rollback` tasks: change a serving fleet one host at a time, through the
router, with no request lost (vllm_fleet.rollout; docs/rolling-changes.md).

invoke rollout --inventory inventory/prod.py
invoke rollout --inventory inventory/prod.py --data image=registry.example.internal/vllm@sha256:...
invoke rollback --inventory inventory/prod.py [--host h200-01.example.internal]
"""

from __future__ import annotations

from pathlib import Path

from invoke import Collection, Exit, task

from vllm_fleet.errors import FleetError
from vllm_fleet.rollout.rollout import Rollout, RolloutReport


@task(
    iterable=["data"],
    help={
        "inventory": "pyinfra inventory file (its group_data/ folder is read too).",
        "data": "A pyinfra --data key=value override for this run (repeatable), for example "
        "image=REF.",
    },
)
def rollout(c, inventory="inventory/prod.py", data=None):
    """Deploy deploy/serve.py host by host: drain, restart, ready gate, undrain; exit 1 at the
    first host that fails (it has rolled back; later hosts are untouched)."""
    _run(lambda r: r.roll_out(), inventory, data or [])


@task(
    iterable=["data"],
    help={
        "inventory": "pyinfra inventory file.",
        "host": "Roll back only this host (default: every serving host).",
        "data": "A pyinfra --data key=value override, as given to the rollout (repeatable).",
    },
)
def rollback(c, inventory="inventory/prod.py", host=None, data=None):
    """Return hosts to the version each recorded as previous, drained, one at a time."""
    _run(lambda r: r.roll_back(host), inventory, data or [])


def _run(action, inventory: str, data: list[str]) -> None:
    try:
        report: RolloutReport = action(Rollout(Path(inventory), tuple(data)))
    except FleetError as err:
        raise Exit(f"error: {err}") from None
    print(
        f"restarted: {', '.join(report.restarted) or 'none'}; "
        f"unchanged: {', '.join(report.unchanged) or 'none'}; "
        f"started: {', '.join(report.started) or 'none'}"
    )


ns = Collection(rollout, rollback)
