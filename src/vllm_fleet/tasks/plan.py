"""The `plan` task: what every host of an inventory will run, without connecting to any.

    invoke plan --inventory inventory/prod.py
    invoke plan --inventory inventory/prod.py --host h200-01.example.internal --json
"""

from __future__ import annotations

import json as jsonlib
import sys
from pathlib import Path

from invoke import Collection, Exit, task

from vllm_fleet.errors import FleetError
from vllm_fleet.paths import MANIFEST_DIR
from vllm_fleet.serving.inventory import inventory_warnings
from vllm_fleet.serving.plan import HostPlan, plan_inventory
from vllm_fleet.serving.secretnames import secrets_present


@task(
    help={
        "inventory": "pyinfra inventory file (its group_data/ folder is read too).",
        "host": "Plan only this host (a name in the inventory).",
        "json": "Print the plans as JSON (machine output) instead of text.",
        "strict_env": "Fail on a VLLM_ variable the image's vLLM does not know "
                      "(default: a warning).",
        "manifest_dir": f"Where image manifests are (default {MANIFEST_DIR}).",
        "allow_unvalidated": "Plan even when no image manifest can check the flags and "
                             "environment (default: that is an error).",
    }
)
def plan(c, inventory="inventory/prod.py", host=None, json=False, strict_env=False,
         manifest_dir=None, allow_unvalidated=False):
    """Show each host's `vllm serve` command, environment, unit and warnings; exit 1 on errors.

    Secrets appear only as where they come from (HF_TOKEN / VLLM_API_KEY are checked for
    presence on this machine, never read). Nothing connects to a host.
    """
    try:
        plans = plan_inventory(
            inventory,
            host,
            manifest_dir=Path(manifest_dir) if manifest_dir else MANIFEST_DIR,
            env_names=secrets_present(),
            strict_env=strict_env,
            allow_unvalidated=allow_unvalidated,
        )
        for warning in inventory_warnings(inventory):
            print(f"warning: {warning}", file=sys.stderr)
    except FleetError as err:
        raise Exit(str(err)) from None
    if json:
        sys.stdout.write(jsonlib.dumps([p.to_dict() for p in plans], indent=2) + "\n")
    else:
        _print_plans(plans)
    failed = [p for p in plans if p.error]
    if failed:
        raise Exit("; ".join(f"{p.host}: {p.error}" for p in failed))


def _print_plans(plans: list[HostPlan]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    for entry in plans:
        console.rule(f"[bold]{entry.host}")
        if entry.spec is None:
            console.print(f"[red]error:[/red] {entry.error}", markup=True)
            continue
        data = entry.to_dict()
        console.print(f"{data['model']} / {data['profile']} on {data['gpu']} "
                      f"({data['runtime']}) image {data['image'] or '-'}")
        style = "green" if entry.spec.validation.validated else "red"
        console.print(data["validation"], style=style)
        console.print("command:", style="bold")
        console.print(data["command"], soft_wrap=True, markup=False)
        table = Table(box=None)
        for column in ("environment", "value", "from"):
            table.add_column(column, overflow="fold")
        sources = dict(entry.spec.sources)
        for name, value in data["environment"].items():
            table.add_row(name, value, sources.get(name, "secret reference"))
        console.print(table)
        for warning in data["warnings"]:
            console.print(f"warning: {warning}", style="yellow", markup=False)
        console.print(f"{data['unit']['path']}:", style="bold")
        # Verbatim (no wrapping, no markup): what lands on the host, ready to copy.
        console.print(data["unit"]["text"], markup=False, soft_wrap=True, end="")


ns = Collection(plan)
