"""Shared fixtures. The slow tier builds the real `cpu` image once per run and reuses it, and
shares one sandbox of FLEET_SIZE hosts (with its registry and hub) across every fleet test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from vllm_fleet.images.build import build_image
from vllm_fleet.images.manifest import ImageManifest, record_manifest
from vllm_fleet.images.matrix import Matrix
from vllm_fleet.images.push import push_target
from vllm_fleet.images.site import site_build_options
from vllm_fleet.local import sandbox
from vllm_fleet.local.localbase import ensure_local_base
from vllm_fleet.local.sandbox import registry

# deploy.sandbox_harness: the sandbox deploy fixtures (local hub, the served fleet) that the
# deploy, router, monitoring and runbook tests share.
pytest_plugins = ["vllm_fixtures", "deploy.sandbox_harness"]


@pytest.fixture(scope="session")
def local_base_image() -> str:
    """A Debian bookworm base made with debootstrap (Docker Hub is unreachable here)."""
    return ensure_local_base()


@pytest.fixture(scope="session")
def cpu_build_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build context and manifests of the test run, apart from the operator's build/."""
    return tmp_path_factory.mktemp("build")


@pytest.fixture(scope="session")
def cpu_manifest(local_base_image: str, cpu_build_dir: Path) -> ImageManifest:
    """The `cpu` image, built for real through the engine with this machine's CA bundle and
    torch wheel; its manifest read from inside the image."""
    target = Matrix().target("cpu").with_overrides(base_image=local_base_image)
    result = build_image(
        target, site_build_options(), log=lambda _line: None, build_dir=cpu_build_dir
    )
    return record_manifest(
        target.name,
        result.image_id,
        result.tags,
        target.vllm_version,
        target.install_mode,
        target.base_image,
        manifest_dir=cpu_build_dir / "images",
    )


@pytest.fixture(scope="session")
def cpu_image(cpu_manifest: ImageManifest) -> str:
    """The tag of the freshly built `cpu` image."""
    return cpu_manifest.tags[0]


# Fleet tests share one sandbox of this many hosts for the whole run (each host costs a Docker
# install, an image pull and a vLLM start): N=1 tests deploy host 1 alone (--limit), N=3 all.
FLEET_SIZE = 3


@pytest.fixture(scope="session")
def sandbox_fleet() -> Iterator[list[sandbox.SandboxHost]]:
    """Fresh sandbox hosts for the whole run, with the registry and the local hub: plain Debian
    12 with systemd and sshd, as new servers are. One left up from an earlier run is replaced,
    and the run removes its own at the end."""
    sandbox.down(log=lambda _line: None)
    yield sandbox.up(FLEET_SIZE, log=lambda _line: None)
    sandbox.down(log=lambda _line: None)


@pytest.fixture(scope="session")
def sandbox_host(sandbox_fleet: list[sandbox.SandboxHost]) -> sandbox.SandboxHost:
    """Host 1 of the shared sandbox (SSH 127.0.0.1:2222, vLLM 127.0.0.1:8000)."""
    return sandbox_fleet[0]


@pytest.fixture(scope="session")
def pushed_manifest(
    sandbox_fleet: list[sandbox.SandboxHost], cpu_manifest: ImageManifest, cpu_build_dir: Path
) -> ImageManifest:
    """The test run's cpu image pushed to the sandbox registry, its repo digest recorded in the
    run's manifest: what the sandbox hosts pull (by digest)."""
    return push_target(
        cpu_manifest.target,
        registry.LOCAL_ADDRESS,
        manifest_dir=cpu_build_dir / "images",
        log=lambda _line: None,
    )
