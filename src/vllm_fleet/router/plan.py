"""The routers' part of `invoke plan`: each router's unit, worker list, HAProxy configuration and
client URL, resolved from the inventory without connecting to any host."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vllm_fleet.router import render
from vllm_fleet.router.spec import HAPROXY_CONFIG, RouterSpec, resolve_routers
from vllm_fleet.serving.inventory import HostData, load_inventory


@dataclass(frozen=True)
class RouterPlan:
    spec: RouterSpec

    def files(self) -> dict[str, str]:
        """Every file the deploy writes on the router host (secrets excepted), path -> text."""
        spec = self.spec
        return {
            spec.unit_path: render.router_unit(spec),
            spec.workers_unit_path: render.workers_unit(spec),
            spec.workers_file: render.workers_file(spec),
            HAPROXY_CONFIG: render.haproxy_config(spec),
        }

    def to_dict(self) -> dict[str, Any]:
        files = self.files()
        return {
            **self.spec.to_dict(),
            "unit": {"path": self.spec.unit_path, "text": files[self.spec.unit_path]},
            "files": files,
        }


def plan_routers(
    inventory: Path | str | list[HostData], host: str | None = None, env_names: Iterable[str] = ()
) -> list[RouterPlan]:
    """The plans of every router of ``inventory`` (or of ``host`` only, if it is one). The whole
    fleet is checked either way: pools and addresses are fleet-wide facts."""
    hosts = inventory if isinstance(inventory, list) else load_inventory(inventory)
    specs = resolve_routers(hosts, frozenset(env_names))
    return [RouterPlan(spec) for spec in specs if host is None or spec.host == host]
