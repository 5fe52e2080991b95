"""The systemd unit rendered from the serve spec; started once, restarted only on change."""

from __future__ import annotations

import io

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.operations import files, systemd
from pyinfra.operations.util import any_changed

from vllm_fleet.deploy.context import host_spec, restart_triggers, restart_when_changed
from vllm_fleet.deploy.facts import UnitState
from vllm_fleet.serving.units import render_unit


@deploy("vLLM service")
def install_service():
    """Write the unit, then start it (first deploy) or restart it exactly once (a change)."""
    spec = host_spec()
    unit_name = f"{spec.unit.name}.service"
    was_active = host.get_fact(UnitState, unit=unit_name).get("ActiveState") == "active"
    unit = files.put(name=f"Unit {spec.unit.path}", src=io.StringIO(render_unit(spec)),
                     dest=spec.unit.path, mode="0644")
    restart_when_changed(unit)
    systemd.daemon_reload(name="Reload systemd units", _if=unit.did_change)
    if was_active:
        return systemd.service(name=f"Restart {unit_name} for its new configuration",
                               service=unit_name, restarted=True, enabled=True,
                               _if=any_changed(*restart_triggers()))
    return systemd.service(name=f"Start {unit_name}", service=unit_name, running=True,
                           enabled=True)
