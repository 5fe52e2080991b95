"""The `plan` task: what every host of an inventory will run, without connecting to any.

invoke plan --inventory inventory/prod.py
invoke plan --inventory inventory/prod.py --host h200-01.example.internal --json
invoke plan --inventory inventory/prod.py --changes [--data image=REF]   # which hosts restart
"""

from __future__ import annotations

import json as jsonlib
import sys
from pathlib import Path

from invoke import Collection, Exit, task

from vllm_fleet.errors import FleetError
from vllm_fleet.hubcache.plan import HubCachePlan, plan_hub_caches
from vllm_fleet.paths import MANIFEST_DIR
from vllm_fleet.rollout.changes import inventory_hosts, parse_data_options, read_changes
from vllm_fleet.router.plan import RouterPlan, plan_routers
from vllm_fleet.serving.inventory import inventory_warnings
from vllm_fleet.serving.plan import HostPlan, plan_inventory
from vllm_fleet.serving.pools import check_restart_budgets
from vllm_fleet.serving.secretnames import secrets_present


@task(
    iterable=["data"],
    help={
        "inventory": "pyinfra inventory file (its group_data/ folder is read too).",
        "host": "Plan only this host (a name in the inventory).",
        "json": "Print the plans as JSON (machine output) instead of text.",
        "strict_env": "Fail on a VLLM_ variable the image's vLLM does not know "
        "(default: a warning).",
        "manifest_dir": f"Where image manifests are (default {MANIFEST_DIR}).",
        "allow_unvalidated": "Plan even when no image manifest can check the flags and "
        "environment (default: that is an error).",
        "changes": "Instead: read each serving host's record over SSH and say whether a deploy "
        "restarts it, and why (image, serve spec, model revision).",
        "data": "With --changes: a pyinfra --data key=value override (repeatable).",
    },
)
def plan(
    c,
    inventory="inventory/prod.py",
    host=None,
    json=False,
    strict_env=False,
    manifest_dir=None,
    allow_unvalidated=False,
    changes=False,
    data=None,
):
    """Show each host's `vllm serve` command, environment, unit and warnings; exit 1 on errors.

    Secrets appear only as where they come from (HF_TOKEN / VLLM_API_KEY are checked for
    presence on this machine, never read). Nothing connects to a host, except with --changes.
    """
    if changes:
        _print_changes(inventory, host, data or [])
        return
    try:
        env_names = secrets_present()
        plans = plan_inventory(
            inventory,
            host,
            manifest_dir=Path(manifest_dir) if manifest_dir else MANIFEST_DIR,
            env_names=env_names,
            strict_env=strict_env,
            allow_unvalidated=allow_unvalidated,
        )
        for warning in inventory_warnings(inventory):
            print(f"warning: {warning}", file=sys.stderr)
        routers = plan_routers(inventory, host, env_names)
        caches = plan_hub_caches(inventory, host)
    except FleetError as err:
        raise Exit(str(err)) from None
    if json:
        entries = [p.to_dict() for p in plans] + [r.to_dict() for r in routers]
        entries += [c.to_dict() for c in caches]
        sys.stdout.write(jsonlib.dumps(entries, indent=2) + "\n")
    else:
        _print_plans(plans)
        _print_routers(routers)
        _print_hub_caches(caches)
    failed = [p for p in plans if p.error]
    if failed:
        raise Exit("; ".join(f"{p.host}: {p.error}" for p in failed))


def _print_changes(inventory: str, host: str | None, data: list[str]) -> None:
    """One line per serving host: starts, no restart, or restart and why."""
    try:
        hosts = inventory_hosts(inventory, parse_data_options(data))
        check_restart_budgets(hosts)
        changes = read_changes(inventory, hosts)
    except FleetError as err:
        raise Exit(str(err)) from None
    for change in changes:
        if host is None or change.name == host:
            print(f"{change.name}: {change.describe()}")


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
        console.print(
            f"{data['model']} / {data['profile']} on {data['gpu']} "
            f"({data['runtime']}) image {data['image'] or '-'}"
        )
        console.print(f"weights from: {data['weights_from']}", markup=False)
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


def _print_routers(routers: list[RouterPlan]) -> None:
    from rich.console import Console

    console = Console(highlight=False)
    for entry in routers:
        spec = entry.spec
        console.rule(f"[bold]{spec.host} (router)")
        console.print(
            f"clients: {spec.url}  (model {spec.model}, pool {spec.pool}, policy "
            f"{spec.settings.router_policy}, vllm-router {spec.settings.router_version})",
            markup=False,
        )
        console.print("workers:", style="bold")
        for worker in spec.workers:
            state = "  (drained)" if worker.drained else ""
            console.print(f"  {worker.url}  {worker.host}{state}", markup=False)
        key = spec.to_dict()["api_key"] or "none: clients are not asked for a key"
        console.print(f"API key: {key}", markup=False)
        for path, text in entry.files().items():
            console.print(f"{path}:", style="bold")
            console.print(text, markup=False, soft_wrap=True, end="")


def _print_hub_caches(caches: list[HubCachePlan]) -> None:
    from rich.console import Console

    console = Console(highlight=False)
    for entry in caches:
        spec = entry.spec
        console.rule(f"[bold]{spec.host} (hub cache)")
        mode = "offline: from its disk only" if spec.settings.hub_cache_offline else "online"
        console.print(
            f"hosts download from: {spec.url}  (upstream {spec.upstream}, {mode}, "
            f"olah {spec.settings.hub_cache_version}, cache {spec.cache_dir})",
            markup=False,
            soft_wrap=True,
        )
        console.print(f"clients: {', '.join(spec.clients) or 'none'}", markup=False, soft_wrap=True)
        for model in spec.models:
            console.print(
                f"  {model.repo_id}@{model.revision}  {model.size_bytes / 1e9:.1f} GB",
                markup=False,
            )
        for path, text in entry.files().items():
            console.print(f"{path}:", style="bold")
            console.print(text, markup=False, soft_wrap=True, end="")


ns = Collection(plan)
