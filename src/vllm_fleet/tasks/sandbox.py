"""Sandbox tasks: a local systemd "host" over SSH on 127.0.0.1 (inventory/sandbox.py)."""

from __future__ import annotations

from invoke import Collection, Exit, task

from vllm_fleet.errors import FleetError
from vllm_fleet.local import sandbox


@task
def up(c):
    """Make (or keep) the sandbox host: Debian 12 + systemd + sshd, key under build/sandbox/."""
    try:
        sandbox.up(sandbox.config_from_inventory())
    except FleetError as err:
        raise Exit(str(err)) from None


@task
def down(c):
    """Remove the sandbox host, its Docker volume, network, local hub and key."""
    try:
        sandbox.down(sandbox.config_from_inventory())
    except FleetError as err:
        raise Exit(str(err)) from None


ns = Collection("sandbox", up, down)
