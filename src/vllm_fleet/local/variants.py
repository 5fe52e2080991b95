"""New versions of the sandbox's image, to roll through the sandbox fleet (tests/rollout,
benchmarks/rollout.py): built FROM the image the hosts run, pushed to the sandbox registry, and
named by the digest the registry gave them, as an operator names a release.

- ``relabelled``: the same server under a new digest (one LABEL more), so a rollout has
  something to change that still serves;
- ``failing_at_start``: an image that builds and pulls, but whose ``vllm`` exits 1 at once
  with a line in the journal, as a broken release does.
"""

from __future__ import annotations

import io
import subprocess

import docker.errors

from vllm_fleet.docker_engine import engine
from vllm_fleet.errors import BuildError, FleetError
from vllm_fleet.hostdata import HostSettings
from vllm_fleet.images.push import push_tag
from vllm_fleet.local.sandbox import SandboxHost, registry
from vllm_fleet.rollout.state import StatePaths, parse_record

# What the failing image's vllm prints before it exits (the rollout's error shows it).
FAILING_LINE = "vllm-fleet test image: this vllm exits at start"


def recorded_image(host: SandboxHost) -> str:
    """The image ``host`` records as current in its state.json (what to derive from)."""
    path = StatePaths(HostSettings().state_dir).record
    text = subprocess.run(
        ["docker", "exec", host.container, "cat", path],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    current = parse_record(text, where=f"{host.name}:{path}").current
    if current is None or not current.image:
        raise FleetError(f"{host.name}:{path} records no current image")
    return current.image


def relabelled(base: str, name: str) -> str:
    """``base`` (as the hosts pull it) with one label more, pushed as ``name``."""
    return _push_derived(base, name, [f"LABEL org.vllm-fleet.variant={name}"])


def failing_at_start(base: str, name: str) -> str:
    """``base`` whose vllm executable prints FAILING_LINE and exits 1, pushed as ``name``."""
    script = f"#!/bin/sh\\necho '{FAILING_LINE}' >&2\\nexit 1\\n"
    return _push_derived(
        base,
        name,
        [
            f"LABEL org.vllm-fleet.variant={name}",
            f'RUN printf "{script}" > "$(command -v vllm)"',
        ],
    )


def _push_derived(base: str, name: str, lines: list[str]) -> str:
    """Build ``FROM base`` plus ``lines``, push it to the sandbox registry; the hosts' ref."""
    local_base = base.replace(registry.HOST_ADDRESS, registry.LOCAL_ADDRESS, 1)
    tag = f"{registry.LOCAL_ADDRESS}/vllm-fleet/{name}:latest"
    dockerfile = "\n".join([f"FROM {local_base}", *lines, ""])
    try:
        engine().images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True)
    except (docker.errors.BuildError, docker.errors.APIError) as err:
        raise BuildError(tag, f"variant build failed: {err}") from None
    pushed = push_tag(tag, log=lambda _line: None)
    return pushed.replace(registry.LOCAL_ADDRESS, registry.HOST_ADDRESS, 1)
