"""The serving image on the host, pulled from its registry before anything restarts.

Pulling here, not only in the unit's ExecStartPre, keeps a 20 GB download out of the service's
start, and a reference the registry does not have fails on this host with the registry's answer
while the running service is untouched (the unit and the restart come later in the deploy).
With ``image_registry_ca`` the host's Docker trusts that CA for ``image_registry``
(https://docs.docker.com/engine/security/certificates/).

``image_pull = False`` is for air-gapped sites that put the image on their hosts by their own
means (``docker load`` from removable media): the deploy then only checks the image is there.
"""

from __future__ import annotations

from pathlib import Path

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.operations import docker, files

from vllm_fleet.deploy.context import fail, host_settings, host_spec
from vllm_fleet.deploy.facts import DockerImageId

DOCKER_CERTS_DIR = "/etc/docker/certs.d"


@deploy("Serving image")
def install_image() -> None:
    spec = host_spec()
    if spec.runtime != "container":
        return
    trust_registry_ca()
    if spec.image_pull:
        docker.image(name=f"Pull {spec.image}", image=spec.image, present=True)
    elif host.get_fact(DockerImageId, image=spec.image) is None:
        fail(
            f"image_pull is off and {spec.image} is not on the host; load it there "
            "(docker load) or turn image_pull on"
        )


def trust_registry_ca() -> None:
    """Install ``image_registry_ca`` (a PEM file on the controller) for ``image_registry``."""
    settings = host_settings()
    ca, registry = settings.image_registry_ca, settings.image_registry
    if not ca:
        return
    if not registry:
        fail(
            "image_registry_ca is set but image_registry is not; set the registry (name:port) "
            "the CA is for"
        )
    path = Path(ca).expanduser()
    if not path.is_file():
        fail(
            f"image_registry_ca: {path} is not a file on the controller (for the sandbox: "
            "`invoke sandbox.up` makes it)"
        )
    folder = f"{DOCKER_CERTS_DIR}/{registry}"
    files.directory(name=f"Directory {folder}", path=folder, mode="0755")
    files.put(
        name=f"Trust the CA of {registry}", src=str(path), dest=f"{folder}/ca.crt", mode="0644"
    )
