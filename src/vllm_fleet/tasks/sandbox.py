"""Sandbox tasks: local systemd "hosts" over SSH on 127.0.0.1, a registry and a hub beside them
(inventory/sandbox.py lists the hosts that are up)."""

from __future__ import annotations

from invoke import Collection, Exit, task

from vllm_fleet.errors import FleetError
from vllm_fleet.local import sandbox


@task(
    help={
        "hosts": f"How many hosts (default {sandbox.DEFAULT_HOSTS}); hosts above it are "
        "removed, running ones are kept."
    }
)
def up(c, hosts=sandbox.DEFAULT_HOSTS):
    """Make (or keep) N sandbox hosts (Debian 12 + systemd + sshd, key under build/sandbox/), the
    sandbox registry and the local hub, all on one Docker network."""
    try:
        sandbox.up(int(hosts))
    except FleetError as err:
        raise Exit(str(err)) from None


@task
def down(c):
    """Remove the sandbox hosts, their Docker volumes, the registry, the local hub, the network
    and the key."""
    try:
        sandbox.down()
    except FleetError as err:
        raise Exit(str(err)) from None


ns = Collection("sandbox", up, down)
