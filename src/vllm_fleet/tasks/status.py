"""The `status` task: one row per host, compared with its plan; exit 1 when any host differs.

invoke status --inventory inventory/prod.py
invoke status --inventory inventory/sandbox.py --json
invoke status --inventory inventory/prod.py --watch
"""

from __future__ import annotations

import json as jsonlib
import sys
import time
from pathlib import Path

from invoke import Collection, Exit, task

from vllm_fleet.errors import FleetError
from vllm_fleet.monitoring.status import HostStatus, fleet_status
from vllm_fleet.paths import MANIFEST_DIR


@task(
    help={
        "inventory": "pyinfra inventory file (its group_data/ folder is read too).",
        "json": "Print the rows as JSON (machine output) instead of a table.",
        "watch": "Redraw every --interval seconds until interrupted (Ctrl-C).",
        "interval": "Seconds between reads with --watch (default 5).",
        "manifest_dir": f"Where image manifests are (default {MANIFEST_DIR}).",
    }
)
def status(
    c, inventory="inventory/prod.py", json=False, watch=False, interval=5.0, manifest_dir=None
):
    """Each host: reachable, unit state and restarts, image vs plan, vLLM version, model,
    profile, /health, requests running/waiting, KV-cache usage, router membership and health.

    Reads hosts over SSH (pyinfra's connector) and HTTP; needs no Prometheus. Exits 1 when any
    host differs from the plan (`invoke plan` shows the plan).
    """
    manifests = Path(manifest_dir) if manifest_dir else MANIFEST_DIR
    while True:
        started = time.monotonic()
        try:
            rows = fleet_status(Path(inventory), manifests)
        except FleetError as err:
            raise Exit(str(err)) from None
        if json:
            sys.stdout.write(jsonlib.dumps([r.to_dict() for r in rows], indent=2) + "\n")
        else:
            _print_table(rows, time.monotonic() - started, clear=watch)
        if not watch:
            break
        try:
            time.sleep(max(0.0, float(interval)))
        except KeyboardInterrupt:
            break
    differing = [r.host for r in rows if not r.ok]
    if differing:
        raise Exit(
            f"{len(differing)} of {len(rows)} hosts differ from the plan: {', '.join(differing)}"
        )


def _print_table(rows: list[HostStatus], seconds: float, clear: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    if not console.is_terminal:  # piped into a file or a log: do not fold to 80 columns
        console = Console(highlight=False, width=220)
    if clear:
        console.clear()
    table = Table(title=f"vllm-fleet status ({seconds:.1f} s)")
    for column in (
        "host",
        "role",
        "ssh",
        "unit",
        "restarts",
        "image",
        "vLLM",
        "model",
        "profile",
        "health",
        "run/wait",
        "KV",
        "routers",
        "differs",
    ):
        table.add_column(column, overflow="fold")
    for r in rows:
        table.add_row(
            r.host,
            r.role,
            "yes" if r.reachable else "no",
            r.unit_state or "-",
            _text(r.restarts),
            _image(r),
            r.vllm_version or "-",
            r.model or "-",
            r.profile or "-",
            r.health or "-",
            f"{_text(r.requests_running)}/{_text(r.requests_waiting)}",
            "-" if r.kv_cache_usage is None else f"{r.kv_cache_usage:.0%}",
            ", ".join(f"{k}: {v}" for k, v in (r.routers or r.router_workers).items()) or "-",
            "; ".join(r.differences) or "no",
            style=None if r.ok else "red",
        )
    console.print(table)


def _image(row: HostStatus) -> str:
    if row.image_matches is None:
        return "-"
    return ("= plan " if row.image_matches else "≠ plan ") + (row.image_running or "")


def _text(value: float | int | None) -> str:
    if value is None:
        return "-"
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


ns = Collection(status)
