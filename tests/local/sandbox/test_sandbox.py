"""The sandbox: real systemd, real sshd on 127.0.0.1 only, made idempotently, resized by running
`up` again with another host count, removed whole by `down`.

There is one sandbox per engine, shared with the deploy tests for the run (tests/conftest.py);
resizing and `down` are checked on a second sandbox under other names and ports.
"""

from __future__ import annotations

from pathlib import Path

import paramiko
import pytest

from vllm_fleet.docker_engine import engine
from vllm_fleet.local import sandbox
from vllm_fleet.local.hub import container as hub
from vllm_fleet.local.sandbox import registry

pytestmark = pytest.mark.slow


def _ssh(host: sandbox.SandboxHost, command: str, key: Path = sandbox.SSH_KEY) -> str:
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect(
        "127.0.0.1",
        port=host.ssh_port,
        username="root",
        key_filename=str(key),
        look_for_keys=False,
        allow_agent=False,
    )
    try:
        _, stdout, _ = client.exec_command(command)
        return stdout.read().decode().strip()
    finally:
        client.close()


def test_up_gives_systemd_hosts_over_ssh(sandbox_fleet: list[sandbox.SandboxHost]) -> None:
    for host in sandbox_fleet:
        assert _ssh(host, "systemctl is-system-running") == "running", host.name
        assert _ssh(host, "hostname") == host.container


def test_hosts_reach_the_registry_and_the_hub_by_name(sandbox_host: sandbox.SandboxHost) -> None:
    answer = _ssh(
        sandbox_host,
        f"curl -sS -o /dev/null -w '%{{http_code}}' -k https://{registry.HOST_ADDRESS}/v2/",
    )
    assert answer == "200"
    assert _ssh(sandbox_host, f"curl -sS {hub.HUB_CONTAINER}:{hub.HUB_PORT}/_stats").startswith("{")


def test_up_is_idempotent(sandbox_fleet: list[sandbox.SandboxHost]) -> None:
    client = engine()
    before = {h.container: client.containers.get(h.container).id for h in sandbox_fleet}
    sandbox.up(len(sandbox_fleet), log=lambda _line: None)
    assert {h.container: client.containers.get(h.container).id for h in sandbox_fleet} == before
    assert (
        _ssh(sandbox_fleet[0], "cat /root/.ssh/authorized_keys")
        == sandbox.SSH_KEY.with_suffix(".pub").read_text().strip()
    )


def test_ports_are_published_on_loopback_only(sandbox_fleet: list[sandbox.SandboxHost]) -> None:
    client = engine()
    for host in sandbox_fleet:
        ports = client.containers.get(host.container).attrs["NetworkSettings"]["Ports"]
        bindings = [b for published in ports.values() if published for b in published]
        assert {b["HostIp"] for b in bindings} == {"127.0.0.1"}
        # SSH, vLLM, and on the router host (host 1) HAProxy's client port.
        expected = {host.ssh_port, host.vllm_port} | (
            {sandbox.ROUTER_PORT} if host.index == 1 else set()
        )
        assert {int(b["HostPort"]) for b in bindings} == expected
    registry_ports = client.containers.get(registry.CONTAINER).attrs["NetworkSettings"]["Ports"]
    assert [b["HostIp"] for b in registry_ports[f"{registry.PORT}/tcp"]] == ["127.0.0.1"]


def test_key_is_private(sandbox_fleet) -> None:
    assert sandbox.SSH_KEY.stat().st_mode & 0o777 == 0o600


@pytest.fixture
def second_sandbox(tmp_path: Path, monkeypatch) -> Path:
    """Other names and ports for every container, volume and the network, so the shared
    sandbox stays up for the deploy tests."""
    for module, name, value in (
        (sandbox, "HOST_PREFIX", "vllm-fleet-sbtest"),
        (sandbox, "NETWORK", "vllm-fleet-sbtest"),
        (sandbox, "LABEL", "ai.vllm-fleet.sbtest"),
        (sandbox, "INDEX_LABEL", "ai.vllm-fleet.sbtest.host"),
        (sandbox, "FIRST_SSH_PORT", 2290),
        (sandbox, "FIRST_VLLM_PORT", 18990),
        (sandbox, "ROUTER_PORT", 18980),
        (registry, "CONTAINER", "vllm-fleet-sbtest-registry"),
        (registry, "VOLUME", "vllm-fleet-sbtest-registry-data"),
        (registry, "LOCAL_PORT", 15999),
        (registry, "LOCAL_ADDRESS", "127.0.0.1:15999"),
        (registry, "TLS_DIR", tmp_path / "registry"),
        (registry, "CA_CERT", tmp_path / "registry" / "ca.crt"),
        (registry, "_CA_KEY", tmp_path / "registry" / "ca.key"),
        (registry, "_SERVER_DIR", tmp_path / "registry" / "tls"),
        (hub, "HUB_CONTAINER", "vllm-fleet-sbtest-hub"),
        (hub, "HUB_LOCAL_PORT", 18998),
    ):
        monkeypatch.setattr(module, name, value)
    # The registry container's label is read from the sandbox module when it starts.
    monkeypatch.setattr(registry, "LABEL", "ai.vllm-fleet.sbtest")
    monkeypatch.setattr(registry, "NETWORK", "vllm-fleet-sbtest")
    monkeypatch.setattr(hub, "LABEL", "ai.vllm-fleet.sbtest")
    monkeypatch.setattr(hub, "NETWORK", "vllm-fleet-sbtest")
    return tmp_path / "key"


def test_up_again_resizes_and_down_removes_everything(second_sandbox: Path) -> None:
    quiet = lambda _line: None  # noqa: E731
    client = engine()
    sandbox.up(2, ssh_key=second_sandbox, log=quiet)
    kept = client.containers.get("vllm-fleet-sbtest-1").id
    sandbox.up(3, ssh_key=second_sandbox, log=quiet)
    assert [h.index for h in sandbox.hosts_up()] == [1, 2, 3]
    assert client.containers.get("vllm-fleet-sbtest-1").id == kept
    sandbox.up(1, ssh_key=second_sandbox, log=quiet)
    assert [h.index for h in sandbox.hosts_up()] == [1]
    assert client.containers.get("vllm-fleet-sbtest-1").id == kept
    assert not client.volumes.list(filters={"name": "vllm-fleet-sbtest-2-docker"})
    assert _ssh(sandbox.SandboxHost(1), "systemctl is-system-running", second_sandbox) == "running"

    sandbox.down(ssh_key=second_sandbox, log=quiet)
    assert not client.containers.list(all=True, filters={"name": "vllm-fleet-sbtest"})
    assert not client.volumes.list(filters={"name": "vllm-fleet-sbtest"})
    assert not client.networks.list(names=["vllm-fleet-sbtest"])
    assert not second_sandbox.exists()
    assert not (second_sandbox.parent / "registry").exists()
