"""The sandbox's host layout and inventory, without starting anything: names, loopback ports and
the data inventory/sandbox.py lists for the hosts that are up."""

from __future__ import annotations

import pytest

from vllm_fleet.errors import FleetError
from vllm_fleet.local import sandbox
from vllm_fleet.serving.inventory import load_inventory


def test_hosts_count_up_from_the_first_ports() -> None:
    assert [(h.name, h.container, h.ssh_port, h.vllm_port, h.url) for h in sandbox.hosts(3)] == [
        ("sandbox-1", "vllm-fleet-sandbox-1", 2222, 8000, "http://127.0.0.1:8000"),
        ("sandbox-2", "vllm-fleet-sandbox-2", 2223, 8001, "http://127.0.0.1:8001"),
        ("sandbox-3", "vllm-fleet-sandbox-3", 2224, 8002, "http://127.0.0.1:8002"),
    ]
    assert len({h.volume for h in sandbox.hosts(4)}) == 4  # each host its own Docker storage


def test_the_inventory_lists_the_hosts_that_are_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        sandbox, "hosts_up", lambda: [sandbox.SandboxHost(1), sandbox.SandboxHost(3)]
    )
    monkeypatch.setattr(sandbox, "_hub_problem", lambda: None)
    listed = load_inventory(sandbox.SANDBOX_INVENTORY)
    assert [h.name for h in listed] == ["sandbox-1", "sandbox-3"]
    assert [(h.data["ssh_hostname"], h.data["ssh_port"], h.data["vllm_port"]) for h in listed] == [
        ("127.0.0.1", 2222, 8000),
        ("127.0.0.1", 2224, 8002),
    ]


def test_none_up_is_one_line_naming_what_to_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox, "hosts_up", lambda: [])
    with pytest.raises(
        FleetError,
        match=r"^inventory/sandbox.py: no sandbox host is up: run "
        r"`invoke sandbox.up`",
    ):
        load_inventory(sandbox.SANDBOX_INVENTORY)


def test_a_hub_without_the_model_names_what_to_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox, "hosts_up", lambda: [sandbox.SandboxHost(1)])
    monkeypatch.setattr(
        sandbox, "_hub_problem", lambda: "the local hub has no vllm-fleet/kimi-tiny@main (HTTP 404)"
    )
    with pytest.raises(
        FleetError,
        match=r"HTTP 404\): run `invoke sandbox.up` once the cpu "
        r"image is built",
    ):
        load_inventory(sandbox.SANDBOX_INVENTORY)
