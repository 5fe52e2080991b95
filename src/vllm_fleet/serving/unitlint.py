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
from vllm_fleet.serving.inventory import load_inventory
from vllm_fleet.serving.plan import Planner
from vllm_fleet.serving.spec import ServeSpec
from vllm_fleet.serving.units import render_unit


def verify_inventory_units(inventories: Iterable[Path], planner: Planner | None = None
                           ) -> list[LintResult]:
    planner = planner or Planner()
    results = []
    for inventory in inventories:
        for host in load_inventory(inventory):
            name = f"{inventory.name}:{host.name}"
            try:
                spec = planner.spec(host)
            except FleetError as err:
                results.append(LintResult(name, False, f"no unit: {err}"))
                continue
            results.append(verify_unit(spec, name))
    return results


def verify_unit(spec: ServeSpec, name: str) -> LintResult:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        raise FleetError("systemd-analyze not found; install systemd (scripts/host-prereqs.sh)")
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        docker = _stub(folder / "bin" / "docker")
        _stub(folder / "venv" / "bin" / "vllm")
        stubbed = dataclasses.replace(spec, unit=dataclasses.replace(
            spec.unit, docker_bin=docker, venv_dir=str(folder / "venv")))
        unit = folder / Path(spec.unit.path).name
        unit.write_text(render_unit(stubbed))
        proc = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True,
                              cwd=folder)
    # Some problems only warn (exit 0): any output at all is a finding.
    output = (proc.stdout + proc.stderr).strip()
    return LintResult(name, proc.returncode == 0 and not output, output)


def _stub(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o755)
    return str(path)
