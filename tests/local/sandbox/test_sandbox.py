"""The sandbox host: real systemd, real sshd on 127.0.0.1 only, made idempotently, removed whole.

There is one sandbox per engine, shared with the deploy tests for the run (tests/conftest.py);
`down` is checked on a second sandbox under other names.
"""

from __future__ import annotations

from pathlib import Path

import paramiko
import pytest

from vllm_fleet.docker_engine import engine
from vllm_fleet.local import sandbox

pytestmark = pytest.mark.slow


def _ssh(config: sandbox.SandboxConfig, command: str) -> str:
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect("127.0.0.1", port=config.ssh_port, username="root",
                   key_filename=str(config.ssh_key), look_for_keys=False, allow_agent=False)
    try:
        _, stdout, _ = client.exec_command(command)
        return stdout.read().decode().strip()
    finally:
        client.close()


def test_up_gives_a_systemd_host_over_ssh(sandbox_host: sandbox.SandboxConfig) -> None:
    assert _ssh(sandbox_host, "systemctl is-system-running") == "running"
    assert _ssh(sandbox_host, "python3 -c 'print(42)'") == "42"


def test_up_is_idempotent(sandbox_host: sandbox.SandboxConfig) -> None:
    before = engine().containers.get(sandbox.CONTAINER).id
    sandbox.up(sandbox_host, log=lambda _line: None)
    assert engine().containers.get(sandbox.CONTAINER).id == before
    assert _ssh(sandbox_host, "cat /root/.ssh/authorized_keys") == \
        sandbox_host.ssh_key.with_suffix(".pub").read_text().strip()


def test_ports_are_published_on_loopback_only(sandbox_host: sandbox.SandboxConfig) -> None:
    ports = engine().containers.get(sandbox.CONTAINER).attrs["NetworkSettings"]["Ports"]
    bindings = [binding for published in ports.values() if published for binding in published]
    assert {b["HostIp"] for b in bindings} == {"127.0.0.1"}
    assert {int(b["HostPort"]) for b in bindings} == {sandbox_host.ssh_port,
                                                      *sandbox_host.published_ports}


def test_key_is_private(sandbox_host: sandbox.SandboxConfig) -> None:
    assert sandbox_host.ssh_key.stat().st_mode & 0o777 == 0o600


def test_down_removes_everything_up_made(tmp_path: Path, monkeypatch) -> None:
    """A second sandbox under other names, so the shared one stays up for the deploy tests."""
    for name, value in (("CONTAINER", "vllm-fleet-sandbox-downtest"),
                        ("DOCKER_VOLUME", "vllm-fleet-sandbox-downtest-docker"),
                        ("NETWORK", "vllm-fleet-sandbox-downtest"),
                        ("LABEL", "ai.vllm-fleet.sandbox-downtest")):
        monkeypatch.setattr(sandbox, name, value)
    config = sandbox.SandboxConfig(ssh_port=2299, ssh_key=tmp_path / "key",
                                   published_ports=(18999,))
    sandbox.up(config, log=lambda _line: None)
    sandbox.down(config, log=lambda _line: None)
    client = engine()
    assert not client.containers.list(all=True, filters={"name": "vllm-fleet-sandbox-downtest"})
    assert not client.volumes.list(filters={"name": "vllm-fleet-sandbox-downtest-docker"})
    assert not client.networks.list(names=["vllm-fleet-sandbox-downtest"])
    assert not config.ssh_key.exists()
