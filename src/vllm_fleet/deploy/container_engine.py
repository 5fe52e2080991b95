"""Container engine: Docker from the distribution or Docker's repository, with log rotation and,
on NVIDIA hosts, the NVIDIA runtime in /etc/docker/daemon.json."""

from __future__ import annotations

import io

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.facts.server import LinuxDistribution
from pyinfra.operations import apt, files, systemd

from vllm_fleet.deploy.context import host_settings, host_spec
from vllm_fleet.deploy.drivers import apt_update_after
from vllm_fleet.serving.units import render_template

DAEMON_JSON = "/etc/docker/daemon.json"
DOCKER_KEYRING = "/etc/apt/keyrings/docker.asc"


@deploy("Container engine")
def install_container_engine() -> None:
    """Install Docker (container runtime hosts only), configure it, keep it running."""
    spec = host_spec()
    if spec.runtime != "container":
        return
    # daemon.json first: a fresh install starts Docker once, and it must read the log rotation
    # and the NVIDIA runtime then; an engine already running restarts for a changed file
    # (dockerd reads it only at start: https://docs.docker.com/reference/cli/dockerd/
    # #daemon-configuration-file).
    config = files.put(
        name=f"Write {DAEMON_JSON}",
        src=io.StringIO(daemon_json(nvidia=spec.gpu_vendor == "nvidia")),
        dest=DAEMON_JSON,
        mode="0644",
        create_remote_dir=True,
    )
    if host_settings().docker_source == "distro":
        packages = apt.packages(
            name="Install Docker (distribution)",
            packages=["docker.io"],
            update=True,
            cache_time=3600,
        )
    else:  # "docker": the schema allows only these two
        packages = _install_from_docker_repo()
    systemd.service(
        name="Docker running and enabled", service="docker.service", running=True, enabled=True
    )
    systemd.service(
        name="Restart Docker for its new configuration",
        service="docker.service",
        restarted=True,
        _if=lambda: config.did_change() and not packages.did_change(),
    )


def daemon_json(nvidia: bool) -> str:
    """The engine configuration: json-file logs rotated per host data; the NVIDIA runtime (the
    entry `nvidia-ctk runtime configure --runtime=docker` writes) where GPUs are NVIDIA's."""
    return render_template(
        "docker-daemon.json.j2",
        nvidia=nvidia,
        max_size=host_settings().docker_log_max_size,
        max_file=host_settings().docker_log_max_file,
    )


def _install_from_docker_repo():
    distro = host.get_fact(LinuxDistribution)
    os_id = distro["name"].lower().split()[0]
    codename = distro["release_meta"].get("CODENAME") or distro["release_meta"].get(
        "VERSION_CODENAME"
    )
    repo = host_settings().docker_repo_url
    apt.packages(
        name="Tools for Docker's repository",
        packages=["ca-certificates", "curl"],
        update=True,
        cache_time=3600,
    )
    files.download(
        name="Docker's apt key", src=f"{repo}/{os_id}/gpg", dest=DOCKER_KEYRING, mode="0644"
    )
    sources = apt.repo(
        name="Docker's apt repository",
        src=f"deb [signed-by={DOCKER_KEYRING}] {repo}/{os_id} {codename} stable",
        filename="docker",
    )
    return apt.packages(
        name="Install Docker (Docker's repository)",
        packages=["docker-ce", "docker-ce-cli", "containerd.io"],
        **apt_update_after(sources),
    )
