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

from vllm_fleet.errors import FleetError
from vllm_fleet.hostdata import HostSettings, settings_for
from vllm_fleet.paths import MANIFEST_DIR
from vllm_fleet.serving.inventory import GroupConflictError, HostData, load_inventory
from vllm_fleet.serving.plan import Planner
from vllm_fleet.serving.secretnames import secrets_present
from vllm_fleet.serving.spec import ServeSpec

_SPECS: dict[str, ServeSpec] = {}
_SETTINGS: dict[str, HostSettings] = {}


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
            planner = Planner(env_names=secrets_present(),
                              manifest_dir=Path(manifest_dir) if manifest_dir else MANIFEST_DIR)
            _SPECS[host.name] = spec = planner.spec(host_data())
        except FleetError as err:
            raise DeployError(f"{host.name}: {err}") from None
        for warning in spec.warnings:  # the plan's warnings, in the deploy's own output
            logger.warning(f"{host.name}: warning: {warning}")
    return _SPECS[host.name]


def host_data() -> HostData:
    """pyinfra's merged data for this host, with the file each key came from when the inventory
    is a file (so an error names group_data/<group>.py, not just "host data")."""
    data = host.data.dict()
    inventory, group_data_dirs = _cli_arguments()
    from_files = _hosts_in(inventory, group_data_dirs).get(host.name) if inventory else None
    if from_files is None:
        return HostData.from_mapping(host.name, data, source="host data")
    overrides = {name: "--data override" for name in host.inventory.get_override_data()}
    return HostData(name=host.name, data=data, sources={**from_files.sources, **overrides},
                    default_source=from_files.default_source)


@cache
def _hosts_in(inventory: Path, group_data_dirs: tuple[str, ...]) -> dict[str, HostData]:
    try:
        return {h.name: h for h in load_inventory(inventory, group_data_dirs)}
    except GroupConflictError as err:
        raise DeployError(str(err)) from None
    except FleetError:
        return {}


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
