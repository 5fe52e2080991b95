"""The serving image on the host: pulled from its registry, or copied from the controller.

``image_pull`` (host data) picks the way. Pulling before the restart keeps a 20 GB download out
of the service's start; copying (``docker save`` on the controller, ``docker load`` on the host)
serves air-gapped sites and images built on the controller, like the sandbox's.
"""

from __future__ import annotations

from pathlib import Path

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.operations import docker, files, server

from vllm_fleet.deploy.context import fail, host_settings, host_spec, restart_when_changed
from vllm_fleet.deploy.facts import DockerImageId
from vllm_fleet.docker_engine import engine
from vllm_fleet.paths import BUILD_DIR

ARCHIVE_DIR = BUILD_DIR / "image-archives"


@deploy("Serving image")
def install_image() -> None:
    spec = host_spec()
    if spec.runtime != "container":
        return
    if spec.image_pull:
        docker.image(name=f"Pull {spec.image}", image=spec.image, present=True)
        return
    wanted = _local_image_id(spec.image)
    if host.get_fact(DockerImageId, image=spec.image) == wanted:
        host.noop(f"{spec.image} is already on the host")
        return
    archive = export_image(spec.image, wanted)
    remote = f"{host_settings().vllm_data_dir}/images/{archive.name}"
    files.put(name=f"Copy {spec.image} to the host", src=str(archive), dest=remote, mode="0600")
    load = server.shell(name=f"Load {spec.image}",
                        commands=[f"docker load -i {remote}", f"rm -f {remote}"])
    restart_when_changed(load)


def export_image(ref: str, image_id: str) -> Path:
    """``docker save`` of ``ref`` on the controller, cached for the image id being deployed
    (archives of other ids are removed: each is gigabytes)."""
    archive = ARCHIVE_DIR / f"{image_id.removeprefix('sha256:')[:16]}.tar"
    if not archive.exists():
        ARCHIVE_DIR.mkdir(parents=True, exist_ok=True)
        for old in ARCHIVE_DIR.glob("*.tar"):
            old.unlink()
        partial = archive.with_suffix(".partial")
        with partial.open("wb") as handle:
            for chunk in engine().images.get(ref).save(named=True):
                handle.write(chunk)
        partial.rename(archive)
    return archive


def _local_image_id(ref: str) -> str:
    try:
        return engine().images.get(ref).id
    except Exception as err:  # docker.errors.ImageNotFound, or no engine on the controller
        fail(f"image_pull is off, so the controller copies {ref}, but it has no such image "
             f"({err}); build it (`invoke build`) or turn image_pull on")
        raise
