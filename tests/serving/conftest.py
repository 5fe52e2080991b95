"""Fixtures for the serving tests: real inventories and model files, the recorded cpu manifest."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from vllm_fleet.images.manifest import load_manifest
from vllm_fleet.local import sandbox
from vllm_fleet.local.sandbox import registry
from vllm_fleet.paths import INVENTORY_DIR
from vllm_fleet.serving.inventory import HostData, load_inventory

# The manifest recorded from the built cpu image (vLLM 0.32.0): what that vLLM really accepts.
MANIFESTS = Path(__file__).parents[1] / "fixtures" / "manifests"
RECORDED = MANIFESTS / "cpu-0.32.0.json"
PUSHED = Path(__file__).parents[1] / "fixtures" / "manifests-pushed"
PUSHED_DIGEST = "sha256:" + "ab" * 32
# Where hand-made test host data claims to come from, so messages can be matched.
TEST_SOURCE = "inventory/test-host.py"


@pytest.fixture(scope="session")
def manifest_dir() -> Path:
    """A folder holding only the recorded cpu manifest (no cuda.json/rocm.json: built elsewhere)."""
    assert RECORDED.is_file(), f"{RECORDED} is missing (recorded from the built cpu image)"
    assert load_manifest(RECORDED).vllm_version == "0.32.0"
    return MANIFESTS


@pytest.fixture(scope="session")
def prod_hosts() -> dict[str, HostData]:
    return {h.name: h for h in load_inventory(INVENTORY_DIR / "prod.py")}


@pytest.fixture(scope="session", autouse=True)
def sandbox_of_one_host() -> Iterator[None]:
    """inventory/sandbox.py lists the sandbox hosts that are up; plan it here as `invoke
    sandbox.up` leaves it (one host, the hub serving the model), without starting anything."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sandbox, "hosts_up", lambda: [sandbox.SandboxHost(1)])
        patch.setattr(sandbox, "_hub_problem", lambda: None)
        yield


@pytest.fixture(scope="session")
def sandbox_host(sandbox_of_one_host: None) -> HostData:
    (host,) = load_inventory(INVENTORY_DIR / "sandbox.py")
    return host


@pytest.fixture(scope="session")
def pushed_manifest_dir(manifest_dir: Path) -> Path:
    """The recorded cpu manifest as `invoke push --target cpu --registry 127.0.0.1:5000` leaves
    it: the same, plus a repo digest in the sandbox registry (made up; tests read it back)."""
    pushed = load_manifest(PUSHED / "cpu.json")
    assert pushed == replace(
        load_manifest(RECORDED),
        repo_digests=[f"{registry.LOCAL_ADDRESS}/vllm-fleet/cpu@{PUSHED_DIGEST}"],
    )
    return PUSHED


@pytest.fixture
def host_with(prod_hosts: dict[str, HostData]) -> Callable[..., HostData]:
    """A copy of a prod host with some keys changed (``None`` removes a key)."""

    def make(base: str = "h200-01.example.internal", **changes: Any) -> HostData:
        host = prod_hosts[base]
        data = {**host.data, **changes}
        sources = {**host.sources, **{key: TEST_SOURCE for key in changes}}
        for key, value in changes.items():
            if value is None:
                del data[key]
                del sources[key]
        return HostData(host.name, data, sources, host.default_source)

    return make
