"""A Debian base image made locally with debootstrap, for machines that cannot pull from Docker Hub.

CI and the demo build the ``cpu`` target on it (``invoke build --target cpu --base-image ...``).
The image is made once per engine: when it already exists nothing runs.
"""

from __future__ import annotations

import subprocess
import tarfile
import tempfile
from pathlib import Path

from vllm_fleet.docker_engine import engine, image_exists

LOCAL_BASE_IMAGE = "vllm-fleet-local/debian:bookworm"
DEBIAN_SUITE = "bookworm"
# The mirror containers and debootstrap reach; apt inside the image keeps using it.
DEBIAN_MIRROR = "http://deb.debian.org/debian"


def ensure_local_base(ref: str = LOCAL_BASE_IMAGE, log=print) -> str:
    """Make ``ref`` from a minimal Debian rootfs unless the engine has it; return ``ref``."""
    client = engine()
    if image_exists(client, ref):
        log(f"base image {ref} already present")
        return ref
    with tempfile.TemporaryDirectory(prefix="vllm-fleet-rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        log(f"debootstrap {DEBIAN_SUITE} (minbase) into {rootfs} ...")
        subprocess.run(
            ["debootstrap", "--variant=minbase", DEBIAN_SUITE, str(rootfs), DEBIAN_MIRROR],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        _trim(rootfs)
        archive = Path(tmp) / "rootfs.tar"
        with tarfile.open(archive, "w") as tar:
            tar.add(rootfs, arcname=".")
        repository, tag = ref.rsplit(":", 1)
        client.api.import_image_from_file(
            str(archive), repository=repository, tag=tag, changes=['CMD ["bash"]']
        )
    log(f"base image {ref} imported")
    return ref


def _trim(rootfs: Path) -> None:
    """Drop the apt lists and caches debootstrap leaves, as the official slim images do."""
    for sub in ("var/lib/apt/lists", "var/cache/apt/archives"):
        for item in (rootfs / sub).glob("*"):
            if item.is_file():
                item.unlink()
