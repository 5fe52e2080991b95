"""Restarts within a pool's budget, the version record, and the rollback of a failed gate.

Why a deploy refuses instead of rolling: pyinfra runs a deploy operation by operation across
every host at once (https://docs.pyinfra.com/en/3.x/deploy-process.html), so one run of
deploy/serve.py restarts every changed host together; it has no way to restart them one after
another within the run. So the deploy counts, while it prepares, the serving hosts of each pool
it would restart; past the pool's ``max_unavailable`` it stops before any host is changed and
says to run ``invoke rollout``, which runs this same deploy on one batch of hosts at a time,
each taken out of the router first (vllm_fleet.rollout).

Once a changed host passes its ready gate, the deploy records the new version on the host
(vllm_fleet.rollout.state). If the gate fails, the host goes back to the unit it ran before,
waits for /health again, and the deploy still fails, naming the stage and the journal's lines.
"""

from __future__ import annotations

import io
import shlex
from dataclasses import dataclass

from pyinfra import host
from pyinfra.api.exceptions import OperationError
from pyinfra.operations import files, server

from vllm_fleet.deploy.context import (
    DeployError,
    cli_inventory,
    host_data,
    host_settings,
    inventory_data,
)
from vllm_fleet.deploy.facts import FileText
from vllm_fleet.errors import FleetError
from vllm_fleet.rollout.state import (
    StatePaths,
    StateRecord,
    Version,
    desired_version,
    parse_record,
)
from vllm_fleet.serving.pools import check_restart_budgets, pool_of, restart_budget, serving_pools
from vllm_fleet.serving.spec import ServeSpec

# The serving hosts this run restarts, per pool, in the order pyinfra prepared them.
_RESTARTING: dict[str, list[str]] = {}
# What a refusal says to run instead; `invoke rollout` recognises its own advice by it.
ROLLOUT_ADVICE = "invoke rollout"


@dataclass(frozen=True)
class LastGood:
    """The version a host ran before this deploy, and the copy of its unit."""

    version: Version
    unit_copy: str


def state_paths() -> StatePaths:
    return StatePaths(host_settings().state_dir)


def state_record() -> StateRecord:
    """The host's record, read while the deploy prepares."""
    path = state_paths().record
    try:
        return parse_record(host.get_fact(FileText, path=path) or "", where=f"{host.name}:{path}")
    except FleetError as err:
        raise DeployError(str(err)) from None


def admit_restart() -> None:
    """Count this host's restart in its pool; stop the deploy when the pool's budget is spent."""
    hosts = inventory_data()
    try:
        check_restart_budgets(hosts)
        pool = pool_of(host_data())
        members = serving_pools(hosts)[pool]
        budget = restart_budget(members)
    except FleetError as err:
        raise DeployError(str(err)) from None
    restarting = _RESTARTING.setdefault(pool, [])
    restarting.append(host.name)
    if len(restarting) <= budget or host_settings().allow_pool_down:
        return
    inventory = cli_inventory() or "INVENTORY"
    raise DeployError(
        f"this deploy would restart {len(restarting)} serving hosts of pool {pool!r} at once "
        f"({', '.join(restarting)}), and max_unavailable is {budget}: pyinfra restarts every "
        f"host of a run together. Roll the change through the router, {budget} at a time, with "
        f"`{ROLLOUT_ADVICE} --inventory {inventory}` (give it the same --data options), or set "
        "allow_pool_down = true if the whole pool may go down"
    )


def last_good(spec: ServeSpec) -> LastGood | None:
    """What a failed gate returns the host to: the recorded current version, when this deploy
    runs another one and the host kept its unit."""
    current = state_record().current
    if current is None or current.same_as(desired_version(spec)):
        return None
    return LastGood(current, state_paths().current_unit)


def record_version(spec: ServeSpec) -> None:
    """After the gate passed: record what the host runs now, the old current as previous."""
    record = state_record()
    version = desired_version(spec)
    if version.same_as(record.current):
        return
    keep_record(spec, record.after_deploy(version), had_current=record.current is not None)


def put_previous_unit(spec: ServeSpec) -> StateRecord:
    """Put the recorded previous unit in place (the caller restarts and gates it); the record as
    it will be once the previous version serves again. Stops when nothing was recorded."""
    paths = state_paths()
    record = state_record()
    if record.previous is None:
        raise DeployError(
            f"{host.name}: no previous version recorded in {paths.record}: nothing to roll "
            "back to (a host records one after its second successful deploy)"
        )
    return_to = shlex.quote(paths.previous_unit)
    server.shell(
        name=f"Unit of {record.previous.describe()} -> {spec.unit.path}",
        commands=[f"install -m 0644 {return_to} {shlex.quote(spec.unit.path)}"],
    )
    return record.after_rollback()


def keep_record(spec: ServeSpec, record: StateRecord, had_current: bool = True) -> None:
    """Once the live unit passed its gate: units/previous.service := units/current.service,
    units/current.service := the live unit, then ``record`` in state.json."""
    paths = state_paths()
    current, previous = shlex.quote(paths.current_unit), shlex.quote(paths.previous_unit)
    files.directory(name=f"State {paths.units_dir}", path=paths.units_dir, mode="0755")
    commands = [f"cp {current} {previous}"] if had_current else []
    server.shell(
        name=f"Keep the unit it runs in {paths.units_dir}",
        commands=[*commands, f"cp {shlex.quote(spec.unit.path)} {current}"],
    )
    files.put(
        name=f"Record {paths.record}",
        src=io.StringIO(record.to_json()),
        dest=paths.record,
        mode="0644",
    )


def restore_unit(spec: ServeSpec, unit_copy: str) -> None:
    """While a gate is failing: the copy back in place, and the server restarted on it."""
    unit = f"{spec.unit.name}.service"
    command = (
        f"install -m 0644 {shlex.quote(unit_copy)} {shlex.quote(spec.unit.path)} && "
        f"systemctl daemon-reload && systemctl restart {shlex.quote(unit)}"
    )
    status, output = host.run_shell_command(command)
    if not status:
        raise OperationError(
            f"could not restore {unit_copy}: " + "\n".join(output.stderr_lines[-5:])
        )
