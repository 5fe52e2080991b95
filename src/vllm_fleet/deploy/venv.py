"""The venv runtime: vLLM installed into a virtualenv on the host (the usage guide's "run on host"
option), with exactly the install steps of the image's build stage (images/templates/macros.j2)
rendered for the host. Reinstalled only when those steps change."""

from __future__ import annotations

import io
import shlex
from pathlib import Path

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.facts.server import Command
from pyinfra.operations import apt, files, server

from vllm_fleet.deploy.context import fail, host_settings, host_spec, restart_when_changed
from vllm_fleet.deploy.site import put_site_ca_bundle
from vllm_fleet.images.matrix import Matrix, Target
from vllm_fleet.images.render import render_venv_script

# Install modes that have a virtualenv recipe, in order of preference.
VENV_MODES = ("pip", "wheel")


@deploy("vLLM virtualenv")
def install_venv() -> None:
    spec = host_spec()
    if spec.runtime != "venv":
        return
    target = venv_target(spec.image_target)
    venv = spec.unit.venv_dir
    extras = f"{host_settings().vllm_data_dir}/venv-extras"
    apt.packages(
        name=f"Python {target.python_version} and runtime libraries",
        packages=[
            f"python{target.python_version}",
            f"python{target.python_version}-venv",
            "ca-certificates",
            *target.mode.get("runtime_packages", []),
        ],
        update=True,
        cache_time=3600,
    )
    inputs = _site_inputs(extras)
    script_path = f"{host_settings().vllm_data_dir}/venv-install.sh"
    script = files.put(
        name=f"Install script for vLLM {target.vllm_version} ({target.name})",
        src=io.StringIO(
            render_venv_script(
                target,
                venv,
                extras,
                index_url=host_settings().site_pip_index_url or "",
                torch_index_url="" if host_settings().site_wheelhouse else None,
            )
        ),
        dest=script_path,
        mode="0755",
    )
    vllm = shlex.quote(f"{venv}/bin/vllm")
    installed = host.get_fact(Command, f"test -x {vllm} && echo yes || echo no")
    # A missing venv is installed; an existing one only when its recipe or inputs changed.
    # Decided now, not with _if at run time, so the restart guard (deploy/rolling.py) can tell
    # whether this deploy restarts the server.
    if installed == "no" or any(op.will_change for op in (script, *inputs)):
        install = server.shell(
            name=f"Install vLLM {target.vllm_version} into {venv}",
            commands=[shlex.join(["sh", script_path])],
        )
        restart_when_changed(install)


def venv_target(name: str) -> Target:
    """The image target whose install steps the host repeats (its pip or wheel mode)."""
    matrix = Matrix()
    modes = [mode for mode in matrix.modes(name) if mode in VENV_MODES]
    if not modes:
        fail(
            f"image_target: {name!r} has no pip or wheel install mode in images/matrix.yaml "
            "to install on a host; use runtime container"
        )
    return matrix.target(name, install_mode=modes[0])


def _site_inputs(extras: str) -> list:
    """Copy the controller's CA bundle and wheels (host data) next to the install script."""
    ops = [files.directory(name=f"Directory {extras}/wheels", path=f"{extras}/wheels", mode="0755")]
    bundle = put_site_ca_bundle(f"{extras}/ca-bundle.crt")
    if bundle:
        ops.append(bundle)
    wheelhouse = host_settings().site_wheelhouse
    if wheelhouse:
        wheels = sorted(Path(wheelhouse).expanduser().glob("*.whl"))
        if not wheels:
            fail(f"site_wheelhouse: {wheelhouse} holds no .whl file on the controller")
        ops += [
            files.put(
                name=f"Wheel {w.name}", src=str(w), dest=f"{extras}/wheels/{w.name}", mode="0644"
            )
            for w in wheels
        ]
    return ops
