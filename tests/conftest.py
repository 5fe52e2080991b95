"""Shared fixtures. The slow tier builds the real `cpu` image once per run and reuses it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from vllm_fleet.images.build import build_image
from vllm_fleet.images.manifest import ImageManifest, record_manifest
from vllm_fleet.images.matrix import Matrix
from vllm_fleet.images.site import site_build_options
from vllm_fleet.local import sandbox
from vllm_fleet.local.localbase import ensure_local_base

pytest_plugins = ["vllm_fixtures"]


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
    result = build_image(target, site_build_options(), log=lambda _line: None,
                         build_dir=cpu_build_dir)
    return record_manifest(target.name, result.image_id, result.tags, target.vllm_version,
                           target.install_mode, target.base_image,
                           manifest_dir=cpu_build_dir / "images")


@pytest.fixture(scope="session")
def cpu_image(cpu_manifest: ImageManifest) -> str:
    """The tag of the freshly built `cpu` image."""
    return cpu_manifest.tags[0]


@pytest.fixture(scope="session")
def sandbox_host() -> Iterator[sandbox.SandboxConfig]:
    """A fresh sandbox host (inventory/sandbox.py) for the whole run: a plain Debian 12 with
    systemd and sshd, as a new server is. One left up from an earlier run is replaced, and the
    run removes its own at the end."""
    config = sandbox.config_from_inventory()
    sandbox.down(config, log=lambda _line: None)
    sandbox.up(config, log=lambda _line: None)
    yield config
    sandbox.down(config, log=lambda _line: None)
