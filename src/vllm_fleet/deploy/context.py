"""The current pyinfra host's settings and serve spec, resolved once per host before any operation
runs.

Resolution happens while pyinfra prepares operations, so bad data stops the deploy with one line
(file, field, what is valid) before any host is changed.
"""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path
from typing import NoReturn

import click
from pyinfra import host, logger
from pyinfra.api.exceptions import PyinfraError
from pyinfra.api.host import Host

from vllm_fleet.errors import FleetError
from vllm_fleet.hostdata import HostSettings, settings_for
from vllm_fleet.hubcache.spec import HubCacheSpec, resolve_hub_caches, weights_endpoints
from vllm_fleet.paths import MANIFEST_DIR
from vllm_fleet.router.spec import ROUTERS_GROUP, RouterSpec, resolve_routers
from vllm_fleet.serving.inventory import GroupConflictError, HostData, load_inventory
from vllm_fleet.serving.plan import Planner
from vllm_fleet.serving.secretnames import secrets_present
from vllm_fleet.serving.spec import ServeSpec

_SPECS: dict[str, ServeSpec] = {}
_SETTINGS: dict[str, HostSettings] = {}
_ROUTERS: dict[str, dict[str, RouterSpec]] = {}
_HUB_CACHES: dict[str, tuple[dict[str, HubCacheSpec], dict[str, str]]] = {}


class DeployError(PyinfraError):
    """A problem found before or during a deploy; pyinfra prints it as one line."""


def host_settings() -> HostSettings:
    """The typed, checked host data of the host pyinfra is preparing (vllm_fleet.hostdata)."""
    if host.name not in _SETTINGS:
        try:
            _SETTINGS[host.name] = settings_for(host_data())
        except FleetError as err:
            raise DeployError(f"{host.name}: {err}") from None
    return _SETTINGS[host.name]


def serves_a_model() -> bool:
    """Whether the host pyinfra is preparing serves a model (its data sets `model`)."""
    if host_settings().model is None:
        host.noop("serves no model (no `model` in its host data)")
        return False
    return True


def host_spec() -> ServeSpec:
    """The ServeSpec of the host pyinfra is preparing (cached: every deploy module shares it)."""
    if host.name not in _SPECS:
        settings = host_settings()
        manifest_dir = settings.image_manifest_dir
        try:
            planner = Planner(
                env_names=secrets_present(),
                manifest_dir=Path(manifest_dir) if manifest_dir else MANIFEST_DIR,
            )
            _SPECS[host.name] = spec = planner.spec(host_data())
        except FleetError as err:
            raise DeployError(f"{host.name}: {err}") from None
        for warning in spec.warnings:  # the plan's warnings, in the deploy's own output
            logger.warning(f"{host.name}: warning: {warning}")
    return _SPECS[host.name]


def host_data(of: Host | None = None) -> HostData:
    """pyinfra's merged data for this host (or ``of``), with the file each key came from when the
    inventory is a file (so an error names group_data/<group>.py, not just "host data")."""
    target = of or host
    data = target.data.dict()
    inventory, group_data_dirs = _cli_arguments()
    from_files = _hosts_in(inventory, group_data_dirs).get(target.name) if inventory else None
    if from_files is None:
        return HostData(
            name=target.name, data=data, default_source="host data", groups=tuple(target.groups)
        )
    overrides = {name: "--data override" for name in target.inventory.get_override_data()}
    return HostData(
        name=target.name,
        data=data,
        sources={**from_files.sources, **overrides},
        default_source=from_files.default_source,
        groups=tuple(target.groups),
    )


def router_spec() -> RouterSpec | None:
    """The router the host pyinfra is preparing runs, or None (noted) when it is not in the
    `routers` group. Every router of the inventory is resolved, so a pool or address mistake
    anywhere stops the deploy before any host is changed."""
    if ROUTERS_GROUP not in host.groups:
        host.noop(f"runs no router (not in the {ROUTERS_GROUP!r} group)")
        return None
    if "routers" not in _ROUTERS:
        env_names = frozenset(secrets_present())
        try:
            specs = resolve_routers(inventory_data(), env_names)
        except FleetError as err:
            raise DeployError(str(err)) from None
        _ROUTERS["routers"] = {spec.host: spec for spec in specs}
    return _ROUTERS["routers"][host.name]


def hub_cache_spec() -> HubCacheSpec | None:
    """The hub cache the host pyinfra is preparing runs, or None when it runs none."""
    caches, _ = _fleet_hub_caches()
    return caches.get(host.name)


def weights_endpoint() -> str:
    """Where the host pyinfra is preparing downloads weights from: its cache group's host when
    the inventory has one, else its hf_endpoint."""
    _, endpoints = _fleet_hub_caches()
    return endpoints[host.name]


def _fleet_hub_caches() -> tuple[dict[str, HubCacheSpec], dict[str, str]]:
    """Every cache of the inventory, and every serving host's endpoint, resolved once: a
    mistake anywhere stops the deploy before any host is changed."""
    if "fleet" not in _HUB_CACHES:
        hosts = inventory_data()
        try:
            specs = resolve_hub_caches(hosts)
            endpoints = weights_endpoints(hosts)
        except FleetError as err:
            raise DeployError(str(err)) from None
        _HUB_CACHES["fleet"] = ({spec.host: spec for spec in specs}, endpoints)
    return _HUB_CACHES["fleet"]


def inventory_data() -> list[HostData]:
    return [host_data(h) for h in host.inventory]


@cache
def _hosts_in(inventory: Path, group_data_dirs: tuple[str, ...]) -> dict[str, HostData]:
    try:
        return {h.name: h for h in load_inventory(inventory, group_data_dirs)}
    except GroupConflictError as err:
        raise DeployError(str(err)) from None
    except FleetError:
        return {}


def cli_inventory() -> str | None:
    """The inventory file pyinfra's command line names (None: not a file)."""
    inventory, _ = _cli_arguments()
    return str(inventory) if inventory else None


def _cli_arguments() -> tuple[Path | None, tuple[str, ...]]:
    """The inventory file (if it is one) and --group-data folders pyinfra's CLI was given, read
    from the command line with pyinfra's own parser. (Its click context is not visible here:
    operations are prepared in gevent greenlets, where click's thread-local context is not.)"""
    from pyinfra_cli.cli import cli

    try:
        params = cli.make_context("pyinfra", sys.argv[1:], resilient_parsing=True).params
    except click.ClickException:
        return None, ()
    value = params.get("inventory")
    inventory = Path(value) if value and Path(value).is_file() else None
    return inventory, tuple(params.get("group_data") or ())


def fail(message: str) -> NoReturn:
    raise DeployError(f"{host.name}: {message}")


# Operations whose change means the running server must restart to see it (the unit itself, a
# new image under the same tag, a rotated API key), per host, in the order they were added.
_RESTART_TRIGGERS: dict[str, list] = {}


def restart_when_changed(op) -> None:
    _RESTART_TRIGGERS.setdefault(host.name, []).append(op)


def restart_triggers() -> list:
    return list(_RESTART_TRIGGERS.get(host.name, []))
