"""The hub caches' part of `invoke plan`: each cache's unit, configuration, upstream, clients
and what it will hold, resolved from the inventory without connecting to any host."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vllm_fleet.hubcache import render
from vllm_fleet.hubcache.spec import HubCacheSpec, resolve_hub_caches
from vllm_fleet.serving.inventory import HostData, load_inventory


@dataclass(frozen=True)
class HubCachePlan:
    spec: HubCacheSpec

    def files(self) -> dict[str, str]:
        """Every file the deploy writes on the cache host, path -> text."""
        return {
            self.spec.unit_path: render.unit(self.spec),
            self.spec.config_path: render.olah_config(self.spec),
        }

    def to_dict(self) -> dict[str, Any]:
        files = self.files()
        return {
            **self.spec.to_dict(),
            "unit": {"path": self.spec.unit_path, "text": files[self.spec.unit_path]},
            "files": files,
        }


def plan_hub_caches(
    inventory: Path | str | list[HostData], host: str | None = None
) -> list[HubCachePlan]:
    """The plans of every cache of ``inventory`` (or of ``host`` only, if it is one)."""
    hosts = inventory if isinstance(inventory, list) else load_inventory(inventory)
    return [HubCachePlan(s) for s in resolve_hub_caches(hosts) if host is None or s.host == host]
