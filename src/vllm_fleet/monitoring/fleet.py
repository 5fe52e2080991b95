"""The inventory as the monitoring host sees it: every host, its groups and typed settings."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from vllm_fleet.hostdata import HostSettings, settings_for
from vllm_fleet.serving.inventory import HostData

# The inventory groups with a role of their own (docs/architecture.md, "The fleet").
ROUTER_GROUP = "routers"
MONITORING_GROUP = "monitoring"


@dataclass(frozen=True)
class FleetHost:
    """One inventory host: its name, groups and settings."""

    name: str
    groups: tuple[str, ...]
    settings: HostSettings

    @property
    def address(self) -> str:
        """Where other hosts reach it (scrape_address, else the inventory name)."""
        return self.settings.scrape_address or self.name

    @property
    def serves(self) -> bool:
        return self.settings.model is not None

    @property
    def is_router(self) -> bool:
        return ROUTER_GROUP in self.groups

    @property
    def is_monitoring(self) -> bool:
        return MONITORING_GROUP in self.groups


def fleet_hosts(
    hosts: Iterable[tuple[str, Iterable[str], Mapping[str, Any] | HostData]],
) -> list[FleetHost]:
    """FleetHosts from (name, groups, data) triples; bad data is one ConfigError naming the key."""
    fleet = []
    for name, groups, data in hosts:
        host_data = data if isinstance(data, HostData) else HostData.from_mapping(name, data)
        fleet.append(FleetHost(name=name, groups=tuple(groups), settings=settings_for(host_data)))
    return fleet


def monitored_units(host: FleetHost) -> list[str]:
    """The systemd units whose state and restarts the host's node exporter reports."""
    units = [f"{host.settings.vllm_unit_name}.service"] if host.serves else []
    return units + [u if "." in u else f"{u}.service" for u in host.settings.monitored_units]
