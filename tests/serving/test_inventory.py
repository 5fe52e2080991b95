"""Inventories load like pyinfra loads them, name the file behind every key, connect nowhere."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from vllm_fleet.errors import ConfigError, UnknownNameError
from vllm_fleet.paths import INVENTORY_DIR
from vllm_fleet.serving.inventory import HostData, load_inventory, select_host


def test_prod_hosts_and_where_their_data_comes_from(prod_hosts: dict[str, HostData]) -> None:
    assert list(prod_hosts) == [
        "h200-01.example.internal",
        "h200-02.example.internal",
        "mi300x-01.example.internal",
        "mi300x-02.example.internal",
        "router-01.example.internal",
    ]
    router = prod_hosts["router-01.example.internal"]
    assert router.groups == ("routers", "hub_cache", "prod")
    assert router.source("hub_cache_dir") == "inventory/group_data/hub_cache.py"
    h200 = prod_hosts["h200-02.example.internal"]
    assert (h200.data["gpu_vendor"], h200.data["gpu_count"], h200.data["profile"]) == (
        "nvidia",
        8,
        "throughput",
    )
    assert h200.source("profile") == "inventory/prod.py"  # the host's own dict wins
    assert h200.source("gpu_vendor") == "inventory/group_data/nvidia_h200.py"
    assert h200.source("vllm_port") == "inventory/group_data/all.py"
    amd = prod_hosts["mi300x-01.example.internal"]
    assert (amd.data["gpu_vendor"], amd.data["profile"]) == ("amd", "latency")
    assert amd.source("profile") == "inventory/group_data/amd_mi300x.py"


def test_sandbox_host(sandbox_host: HostData) -> None:
    assert sandbox_host.name == "sandbox-1"
    assert (sandbox_host.data["ssh_hostname"], sandbox_host.data["ssh_port"]) == ("127.0.0.1", 2222)
    assert sandbox_host.data["ssh_key"].endswith("build/sandbox/id_ed25519")
    assert sandbox_host.data["vllm_url"] == "http://127.0.0.1:8000"
    assert (sandbox_host.data["gpu_vendor"], sandbox_host.data["model"]) == ("none", "kimi-tiny")
    assert sandbox_host.source("image_pull") == "inventory/group_data/sandbox.py"
    assert sandbox_host.data["image_registry"] == "vllm-fleet-registry:5000"
    assert "image" not in sandbox_host.data  # the pushed digest, from the cpu manifest


def test_loading_connects_nowhere_and_leaves_the_process_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(*_args, **_kwargs):
        raise AssertionError("the inventory loader tried the network")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    assert len(load_inventory(INVENTORY_DIR / "prod.py")) == 5
    # pyinfra's CLI package gevent-patches the stdlib on import; the loader must not pull it in.
    # (Checked in a fresh interpreter: other tests of a session may import pyinfra_cli.)
    probe = (
        "import sys\n"
        "from vllm_fleet.serving.inventory import load_inventory\n"
        f"load_inventory({str(INVENTORY_DIR / 'prod.py')!r})\n"
        "from gevent import monkey\n"
        "assert 'pyinfra_cli' not in sys.modules, 'pyinfra_cli imported'\n"
        "assert not monkey.is_module_patched('socket'), 'socket patched'\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_a_host_dict_beats_group_data_beats_all(tmp_path: Path) -> None:
    (tmp_path / "group_data").mkdir()
    (tmp_path / "group_data" / "all.py").write_text("vllm_port = 8000\nprofile = 'a'\n")
    (tmp_path / "group_data" / "gpus.py").write_text("import os\nprofile = 'b'\n")
    (tmp_path / "fleet.py").write_text(
        "gpus = ['one', ('two', {'profile': 'c'})]\n_private = ['not-a-host']\n"
    )
    one, two = load_inventory(tmp_path / "fleet.py")
    assert (one.data["profile"], two.data["profile"], one.data["vllm_port"]) == ("b", "c", 8000)
    assert "os" not in one.data  # imports are not data (pyinfra's rule)
    assert two.source("profile") == str(tmp_path / "fleet.py")
    assert one.source("profile") == str(tmp_path / "group_data" / "gpus.py")


def test_broken_inventory_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.py: inventory file not found"):
        load_inventory(tmp_path / "nope.py")
    (tmp_path / "bad.py").write_text("hosts = [\n")
    with pytest.raises(ConfigError, match=r"bad\.py: cannot load \(SyntaxError"):
        load_inventory(tmp_path / "bad.py")


def test_an_unknown_host_lists_the_hosts(prod_hosts: dict[str, HostData]) -> None:
    with pytest.raises(
        UnknownNameError,
        match=r"^inventory/prod\.py: unknown host 'h200-09'; "
        r"valid: h200-01\.example\.internal, ",
    ):
        select_host(list(prod_hosts.values()), "h200-09", "inventory/prod.py")
