"""The systemd unit rendered from the serve spec; started once, restarted only on change."""

from __future__ import annotations

import io

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.operations import files, systemd
from pyinfra.operations.util import any_changed

from vllm_fleet.deploy.context import host_spec, restart_triggers, restart_when_changed
from vllm_fleet.deploy.facts import GroupIds, UnitState
from vllm_fleet.deploy.rolling import admit_restart
from vllm_fleet.serving.spec import ServeSpec
from vllm_fleet.serving.units import render_unit, render_watchdog


@deploy("vLLM service")
def install_service():
    """Write the unit, then start it (first deploy) or restart it exactly once (a change),
    within the pool's max_unavailable (vllm_fleet.deploy.rolling)."""
    spec = host_spec()
    unit_name = f"{spec.unit.name}.service"
    was_active = host.get_fact(UnitState, unit=unit_name).get("ActiveState") == "active"
    group_ids = (
        host.get_fact(GroupIds, groups=list(spec.container.group_add))
        if spec.container.group_add
        else {}
    )
    unit = files.put(
        name=f"Unit {spec.unit.path}",
        src=io.StringIO(render_unit(spec, group_ids)),
        dest=spec.unit.path,
        mode="0644",
    )
    restart_when_changed(unit)
    watchdog = _watchdog_files(spec)
    systemd.daemon_reload(name="Reload systemd units", _if=any_changed(unit, *watchdog))
    _watchdog_timer(spec)
    if was_active:
        if any(op.will_change for op in restart_triggers()):
            admit_restart()  # stops here when the pool's max_unavailable is spent
        return systemd.service(
            name=f"Restart {unit_name} for its new configuration",
            service=unit_name,
            restarted=True,
            enabled=True,
            _if=any_changed(*restart_triggers()),
        )
    return systemd.service(name=f"Start {unit_name}", service=unit_name, running=True, enabled=True)


def _watchdog_files(spec: ServeSpec) -> list:
    """The /health watchdog's script, service and timer (vllm_fleet.serving.supervision)."""
    ops = []
    for path, text in render_watchdog(spec).items():
        mode = "0644" if path.startswith("/etc/systemd/") else "0755"
        ops.append(
            files.put(
                name=f"Watchdog {path}",
                src=io.StringIO(text),
                dest=path,
                mode=mode,
                create_remote_dir=True,
            )
        )
    return ops


def _watchdog_timer(spec: ServeSpec) -> None:
    watchdog = spec.unit.supervision.watchdog if spec.unit.supervision else None
    timer = f"{spec.unit.name}-watchdog.timer"
    if watchdog is None:
        if host.get_fact(UnitState, unit=timer).get("ActiveState") == "active":
            systemd.service(
                name=f"Stop {timer} (health_watchdog is off)",
                service=timer,
                running=False,
                enabled=False,
            )
        return
    systemd.service(name=f"{timer} running and enabled", service=timer, running=True, enabled=True)


def restart_service(spec: ServeSpec):
    """Restart the server on the unit now in place (a rollback's): reload, then restart."""
    unit_name = f"{spec.unit.name}.service"
    systemd.daemon_reload(name="Reload systemd units")
    return systemd.service(
        name=f"Restart {unit_name}", service=unit_name, running=True, restarted=True
    )
