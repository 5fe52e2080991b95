"""`systemd-analyze verify` on the unit every host of an inventory would get.

systemd checks that each Exec binary exists, and the controller has neither the hosts' docker
client (/usr/bin/docker) nor their venv, so the units are verified with those two paths pointing
at executable stubs in a scratch folder; everything else is the unit the host gets.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path

from vllm_fleet.errors import FleetError
from vllm_fleet.images.lint import LintResult
from vllm_fleet.router import render
from vllm_fleet.router.spec import resolve_routers
from vllm_fleet.serving.inventory import load_inventory
from vllm_fleet.serving.plan import Planner, serves_a_model
from vllm_fleet.serving.spec import ServeSpec
from vllm_fleet.serving.units import render_unit


def verify_inventory_units(
    inventories: Iterable[Path], planner: Planner | None = None
) -> list[LintResult]:
    planner = planner or Planner()
    results = []
    for inventory in inventories:
        hosts = load_inventory(inventory)
        for host in [h for h in hosts if serves_a_model(h)]:
            name = f"{inventory.name}:{host.name}"
            try:
                spec = planner.spec(host)
            except FleetError as err:
                results.append(LintResult(name, False, f"no unit: {err}"))
                continue
            results.append(verify_unit(spec, name))
        results += _verify_router_units(hosts, inventory.name)
    return results


def verify_unit(spec: ServeSpec, name: str) -> LintResult:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        raise FleetError("systemd-analyze not found; install systemd (scripts/host-prereqs.sh)")
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        docker = _stub(folder / "bin" / "docker")
        _stub(folder / "venv" / "bin" / "vllm")
        stubbed = dataclasses.replace(
            spec,
            unit=dataclasses.replace(spec.unit, docker_bin=docker, venv_dir=str(folder / "venv")),
        )
        unit = folder / Path(spec.unit.path).name
        unit.write_text(render_unit(stubbed))
        proc = subprocess.run(
            [analyze, "verify", str(unit)], capture_output=True, text=True, cwd=folder
        )
    # Some problems only warn (exit 0): any output at all is a finding.
    output = (proc.stdout + proc.stderr).strip()
    return LintResult(name, proc.returncode == 0 and not output, output)


def _verify_router_units(hosts: list, inventory: str) -> list[LintResult]:
    """Each router's two units, with the router venv's executables stubbed."""
    try:
        specs = resolve_routers(hosts)
    except FleetError as err:
        return [LintResult(f"{inventory}: routers", False, f"no unit: {err}")]
    results = []
    for spec in specs:
        with tempfile.TemporaryDirectory() as scratch:
            folder = Path(scratch)
            _stub(folder / "venv" / "bin" / "vllm-router")
            _stub(folder / "venv" / "bin" / "python")
            stubbed = dataclasses.replace(
                spec,
                settings=dataclasses.replace(spec.settings, router_venv_dir=str(folder / "venv")),
            )
            units = {
                Path(spec.unit_path).name: render.router_unit(stubbed),
                Path(spec.workers_unit_path).name: render.workers_unit(stubbed),
            }
            for unit_name, text in units.items():
                (folder / unit_name).write_text(text)
            results += [
                _analyze(folder, folder / unit_name, f"{inventory}:{spec.host}:{unit_name}")
                for unit_name in units
            ]
    return results


def _analyze(folder: Path, unit: Path, name: str) -> LintResult:
    proc = subprocess.run(
        [_analyzer(), "verify", str(unit)], capture_output=True, text=True, cwd=folder
    )
    output = (proc.stdout + proc.stderr).strip()
    return LintResult(name, proc.returncode == 0 and not output, output)


def _analyzer() -> str:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        raise FleetError("systemd-analyze not found; install systemd (scripts/host-prereqs.sh)")
    return analyze


def _stub(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o755)
    return str(path)
