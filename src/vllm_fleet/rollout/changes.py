"""Which serving hosts a deploy restarts, and why: each host's own record (read over pyinfra's
connection) against what the inventory's data, with any ``--data`` overrides, resolves to.

Both ``invoke plan --changes`` and ``invoke rollout`` read the fleet through here, so what the
plan says would restart is what the rollout drains.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vllm_fleet.errors import FleetError
from vllm_fleet.hostdata import settings_for
from vllm_fleet.paths import MANIFEST_DIR
from vllm_fleet.pyinfra_run import run_command_fact
from vllm_fleet.rollout.state import StatePaths, StateRecord, desired_version, parse_record
from vllm_fleet.serving.inventory import HostData, load_inventory
from vllm_fleet.serving.plan import Planner, serves_a_model
from vllm_fleet.serving.secretnames import secrets_present
from vllm_fleet.serving.spec import ServeSpec

# Between the unit's state and the record in one command's output.
_SEPARATOR = "--- vllm-fleet state record ---"


@dataclass(frozen=True)
class HostChange:
    """One serving host: whether it serves now, what it records, and why a deploy restarts it."""

    host: HostData
    spec: ServeSpec
    serving: bool  # the unit is active
    record: StateRecord
    reasons: tuple[str, ...] = field(default=())

    @property
    def name(self) -> str:
        return self.host.name

    @property
    def restarts(self) -> bool:
        """A deploy restarts it: it serves and runs something else than the data asks for."""
        return self.serving and bool(self.reasons)

    def describe(self) -> str:
        if not self.serving:
            return "starts (not serving yet)"
        if not self.reasons:
            return "no restart"
        return "restart: " + "; ".join(self.reasons)


def parse_data_options(options: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """pyinfra's ``--data key=value`` options as its CLI reads them (pyinfra_cli.util
    .parse_cli_arg: true/false, then an integer, then JSON, else the string). Not imported:
    importing pyinfra_cli gevent-patches this process."""
    data: dict[str, Any] = {}
    for option in options:
        name, sep, text = option.partition("=")
        if not sep or not name:
            raise FleetError(f"--data {option!r}: expected key=value")
        data[name] = _parse_value(text)
    return data


def _parse_value(text: str) -> Any:
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return json.loads(text)
    except ValueError:
        return text


def inventory_hosts(inventory: Path | str, overrides: dict[str, Any]) -> list[HostData]:
    """Every host of ``inventory`` with ``overrides`` on top, as pyinfra's --data applies them."""
    return [
        HostData(
            name=h.name,
            data={**h.data, **overrides},
            sources={**h.sources, **dict.fromkeys(overrides, "--data override")},
            default_source=h.default_source,
            groups=h.groups,
        )
        for h in load_inventory(inventory)
    ]


def read_changes(inventory: Path | str, hosts: list[HostData]) -> list[HostChange]:
    """Every serving host of ``hosts``: its plan, and its record read from the host itself."""
    planners: dict[Path, Planner] = {}
    changes = []
    for host in (h for h in hosts if serves_a_model(h)):
        settings = settings_for(host)
        # The image manifests the deploy reads for this host (host data image_manifest_dir).
        manifest_dir = Path(settings.image_manifest_dir or MANIFEST_DIR)
        if manifest_dir not in planners:
            planners[manifest_dir] = Planner(env_names=secrets_present(), manifest_dir=manifest_dir)
        spec = planners[manifest_dir].spec(host)
        serving, record = read_state(inventory, host.name, spec, StatePaths(settings.state_dir))
        reasons = _reasons(record, spec) if serving else ()
        changes.append(HostChange(host, spec, serving, record, tuple(reasons)))
    return changes


def read_state(
    inventory: Path | str, name: str, spec: ServeSpec, paths: StatePaths
) -> tuple[bool, StateRecord]:
    """Whether the host's unit is active, and its record, in one command over SSH."""
    unit = shlex.quote(f"{spec.unit.name}.service")
    command = (
        f"systemctl is-active {unit} 2>/dev/null; echo {shlex.quote(_SEPARATOR)}; "
        f"cat {shlex.quote(paths.record)} 2>/dev/null || true"
    )
    try:
        output = run_command_fact(inventory, name, command)
    except FleetError as err:
        raise FleetError(f"{name}: cannot read its state record: {err}") from None
    active, _, record = output.partition(_SEPARATOR)
    return active.strip() == "active", parse_record(record, where=f"{name}:{paths.record}")


def _reasons(record: StateRecord, spec: ServeSpec) -> list[str]:
    if record.current is None:
        return ["no state record yet (deployed before vllm-fleet recorded versions)"]
    return record.current.differences(desired_version(spec))
