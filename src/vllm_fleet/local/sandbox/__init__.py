"""The sandbox: a fleet of local stand-ins for bare-metal GPU servers, reached over real SSH.

Each host is a Debian 12 container running systemd as PID 1 and sshd, with its SSH port and its
vLLM port published on 127.0.0.1 only and one key (generated once) for all of them. The deploy
treats them like any host: it installs Docker inside, writes the unit, downloads weights and
starts vLLM (CPU). Each host's Docker storage lives in its own named volume, so nested containers
use overlay2 and every host pulls its own copy of the image, as separate servers do.

All hosts sit on one Docker network with the services a real site has: the image registry
(registry.py) and the local Hugging Face hub (vllm_fleet.local.hub), reached by name.

`invoke sandbox.up --hosts N` makes hosts 1..N and removes any above N, leaving running ones
alone; `invoke sandbox.down` removes everything `up` made. inventory/sandbox.py lists the hosts
that are up (`inventory()`), so one `pyinfra inventory/sandbox.py deploy/serve.py` deploys them
all.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pyinfra.api.exceptions import InventoryError

from vllm_fleet.docker_engine import engine, image_exists
from vllm_fleet.errors import FleetError
from vllm_fleet.hostdata import HostSettings
from vllm_fleet.local.localbase import ensure_local_base
from vllm_fleet.paths import BUILD_DIR, IMAGES_DIR, INVENTORY_DIR, REPO_ROOT

HOST_IMAGE = "vllm-fleet-local/sandbox-host:bookworm"
HOST_DOCKERFILE_DIR = IMAGES_DIR / "sandbox-host"
# Host i is the container (and, on the network, the host name) vllm-fleet-sandbox-<i>, named
# sandbox-<i> in the inventory; its SSH and vLLM ports count up from these.
HOST_PREFIX = "vllm-fleet-sandbox"
FIRST_SSH_PORT = 2222
FIRST_VLLM_PORT = 8000
# The last host up is also the monitoring host (group `monitoring`), Prometheus on its loopback.
# Host 1 is also the fleet's router (group `routers` in inventory/sandbox.py): vllm-router behind
# HAProxy, whose client port it publishes on 127.0.0.1 as the same number.
ROUTER_HOST_INDEX = 1
ROUTER_PORT = 8080
ROUTER_URL = f"http://127.0.0.1:{ROUTER_PORT}"
ROUTER_DATA = {"router_port": ROUTER_PORT, "router_url": ROUTER_URL}
# Host 1 is also the fleet's hub cache (group `hub_cache`): olah on its data volume, in front of
# the local hub; every host downloads weights through it, by name on the network.
HUB_CACHE_HOST_INDEX = 1
HUB_CACHE_DIR = "/var/lib/vllm-fleet/hub-cache"
SSH_KEY = BUILD_DIR / "sandbox" / "id_ed25519"
SANDBOX_INVENTORY = INVENTORY_DIR / "sandbox.py"
# The sandbox's own network: the hosts, the registry and the local hub reach each other by name,
# as real hosts reach huggingface.co, a site mirror or a registry.
NETWORK = "vllm-fleet-sandbox"
# Every container and volume `up` makes carries LABEL (that is how `down` finds them); hosts also
# carry their number.
LABEL = "ai.vllm-fleet.sandbox"
INDEX_LABEL = "ai.vllm-fleet.sandbox.host"
DEFAULT_HOSTS = 1
# What the hosts serve (group_data/sandbox.py reads it): the tiny Kimi-format model, made from
# the cpu image into TINY_MODEL_DIR and published on the local hub by `up`.
MODEL = "kimi-tiny"
TINY_MODEL_DIR = BUILD_DIR / "kimi-tiny"


class SandboxError(FleetError):
    """The sandbox could not be made or did not come up."""


class SandboxNotUp(FleetError, InventoryError):
    """No sandbox host is up; pyinfra prints it as one line."""


@dataclass(frozen=True)
class SandboxHost:
    """Host ``index`` (1-based) of the sandbox: its names and its loopback ports."""

    index: int

    @property
    def name(self) -> str:
        return f"sandbox-{self.index}"

    @property
    def container(self) -> str:
        return f"{HOST_PREFIX}-{self.index}"

    @property
    def volume(self) -> str:
        return f"{self.container}-docker"

    @property
    def ssh_port(self) -> int:
        return FIRST_SSH_PORT + self.index - 1

    @property
    def vllm_port(self) -> int:
        """vLLM's port on the host, published on the controller's 127.0.0.1 as the same number."""
        return FIRST_VLLM_PORT + self.index - 1

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.vllm_port}"

    @property
    def worker_url(self) -> str:
        """Where other hosts (the router on host 1) reach its server: by name on the network."""
        return f"http://{self.container}:{self.vllm_port}"

    @property
    def is_router(self) -> bool:
        return self.index == ROUTER_HOST_INDEX

    @property
    def is_hub_cache(self) -> bool:
        return self.index == HUB_CACHE_HOST_INDEX

    @property
    def hub_cache_data(self) -> dict[str, Any]:
        """A cache host's data: its folder, and its address by name on the network."""
        port = HostSettings().hub_cache_port
        return {"hub_cache_dir": HUB_CACHE_DIR, "hub_cache_url": f"http://{self.container}:{port}"}

    @property
    def published_ports(self) -> list[int]:
        """The host's ports the controller reaches on 127.0.0.1 (besides SSH)."""
        return [self.vllm_port, *([ROUTER_PORT] if self.is_router else [])]

    def inventory_entry(self, ssh_key: Path = SSH_KEY) -> tuple[str, dict[str, Any]]:
        """The host as inventory/sandbox.py lists it (pyinfra's (name, data) form)."""
        return (
            self.name,
            {
                "ssh_hostname": "127.0.0.1",
                "ssh_port": self.ssh_port,
                "ssh_user": "root",
                "ssh_key": str(ssh_key),
                # A throwaway container whose host key changes on every rebuild.
                "ssh_known_hosts_file": "/dev/null",
                "ssh_strict_host_key_checking": "no",
                "vllm_port": self.vllm_port,
                # Where the controller reaches the server (the ready gate, smoke), and where
                # the router on host 1 reaches it: by name on the sandbox network.
                "vllm_url": self.url,
                "worker_url": self.worker_url,
                # And where the monitoring host scrapes it.
                "scrape_address": self.container,
                **(ROUTER_DATA if self.is_router else {}),
                **(self.hub_cache_data if self.is_hub_cache else {}),
            },
        )


def hosts(count: int) -> list[SandboxHost]:
    return [SandboxHost(i) for i in range(1, count + 1)]


def hosts_up() -> list[SandboxHost]:
    """The sandbox hosts whose containers run, by number; none when no engine answers."""
    try:
        containers = engine().containers.list(
            filters={"label": [LABEL, INDEX_LABEL], "status": "running"}
        )
    except FleetError:
        return []
    return sorted(
        (SandboxHost(int(c.labels[INDEX_LABEL])) for c in containers), key=lambda h: h.index
    )


def inventory() -> list[tuple[str, dict[str, Any]]]:
    """inventory/sandbox.py's hosts: those that are up. None up stops pyinfra (and `invoke
    plan`) with one line naming what to run first."""
    up_now = hosts_up()
    if not up_now:
        raise SandboxNotUp(
            "no sandbox host is up: run `invoke sandbox.up` (or `invoke demo`) first"
        )
    problem = _hub_problem()
    if problem:
        raise SandboxNotUp(
            f"{problem}: run `invoke sandbox.up` once the cpu image is built "
            "(`invoke build --target cpu`; up then makes and publishes the model), "
            "or `invoke demo`"
        )
    return [host.inventory_entry() for host in up_now]


def routers() -> list[str]:
    """inventory/sandbox.py's `routers` group: host 1, when it is up."""
    return [host.name for host in hosts_up() if host.is_router]


def hub_caches() -> list[str]:
    """inventory/sandbox.py's `hub_cache` group: host 1, when it is up."""
    return [host.name for host in hosts_up() if host.is_hub_cache]


def monitoring_host() -> SandboxHost | None:
    """The monitoring host: the last host up (Prometheus beside a vLLM the tests stop and
    start)."""
    up_now = hosts_up()
    return up_now[-1] if up_now else None


def monitoring_hosts() -> list[str]:
    """inventory/sandbox.py's `monitoring` group."""
    monitor = monitoring_host()
    return [monitor.name] if monitor else []


def run_deploy(
    deploy_file: str,
    *options: str,
    env: dict[str, str] | None = None,
    inventory: Path = SANDBOX_INVENTORY,
) -> subprocess.CompletedProcess:
    """`pyinfra inventory/sandbox.py <deploy_file> -y <options>`, as an operator types it in the
    checkout; its output (stdout and stderr together) captured."""
    pyinfra = Path(sys.executable).parent / "pyinfra"
    return subprocess.run(
        [str(pyinfra), str(inventory), deploy_file, "-y", *options],
        cwd=REPO_ROOT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=1800,
    )


def _hub_problem() -> str | None:
    from vllm_fleet.local.hub.container import serves
    from vllm_fleet.serving.models import load_model

    model = load_model(MODEL)
    return serves(model.repo_id, model.revision)


def up(
    count: int = DEFAULT_HOSTS, ssh_key: Path = SSH_KEY, log=print, services: bool = True
) -> list[SandboxHost]:
    """Make hosts 1..``count`` (keeping those that run), remove hosts above ``count``, and start
    the registry and the local hub (``services``). Returns the hosts, reachable over SSH."""
    if count < 1:
        raise SandboxError(f"--hosts: {count} is not a host count (1 or more)")
    client = engine()
    ensure_host_image(client, log)
    public_key = _ensure_key(ssh_key)
    ensure_network(client)
    if services:
        _start_services(client, log)
        publish_model(log)
    for container in _host_containers(client):
        if int(container.labels[INDEX_LABEL]) > count:
            _remove_host(client, container, log)
    wanted = hosts(count)
    containers = {host.index: _ensure_host(client, host, log) for host in wanted}
    for host in wanted:
        _install_key(containers[host.index], public_key)
    for host in wanted:
        _wait_until_ready(containers[host.index], host)
    log(
        f"sandbox ready: {count} host(s); ssh -p {FIRST_SSH_PORT} -i {ssh_key} root@127.0.0.1 "
        f"(host 1); inventory/sandbox.py lists them"
    )
    return wanted


def down(ssh_key: Path = SSH_KEY, log=print) -> None:
    """Remove every container (hosts, registry, hub), volume and network `up` made, the key and
    the registry's CA."""
    client = engine()
    for container in client.containers.list(all=True, filters={"label": LABEL}):
        container.remove(force=True, v=True)
        log(f"removed {container.name}")
    for volume in client.volumes.list(filters={"label": LABEL}):
        volume.remove(force=True)
        log(f"removed volume {volume.name}")
    try:
        client.networks.get(NETWORK).remove()
        log(f"removed network {NETWORK}")
    except docker.errors.NotFound:
        pass
    for path in (ssh_key, ssh_key.with_suffix(".pub")):
        path.unlink(missing_ok=True)
    from vllm_fleet.local.sandbox.registry import TLS_DIR

    shutil.rmtree(TLS_DIR, ignore_errors=True)  # the registry's CA and key pair


def ensure_host_image(client: docker.DockerClient, log) -> None:
    build_local_image(client, HOST_IMAGE, HOST_DOCKERFILE_DIR, log)


def build_local_image(client: docker.DockerClient, tag: str, folder: Path, log) -> None:
    """Build ``folder``'s Dockerfile on the local base image unless ``tag`` exists."""
    if image_exists(client, tag):
        return
    base = ensure_local_base(log=log)
    log(f"building {tag} from {base}")
    try:
        client.images.build(
            path=str(folder), tag=tag, buildargs={"BASE_IMAGE": base}, rm=True, pull=False
        )
    except docker.errors.BuildError as err:
        raise SandboxError(f"building {tag} failed: {err.msg}") from err


def ensure_network(client: docker.DockerClient):
    try:
        return client.networks.get(NETWORK)
    except docker.errors.NotFound:
        return client.networks.create(NETWORK, driver="bridge", labels={LABEL: "1"})


def ensure_volume(client: docker.DockerClient, name: str) -> str:
    """A named volume labelled for `down` (an implicit one would carry no label)."""
    try:
        client.volumes.get(name)
    except docker.errors.NotFound:
        client.volumes.create(name, labels={LABEL: "1"})
    return name


def _start_services(client: docker.DockerClient, log) -> None:
    from vllm_fleet.local.hub.container import ensure_hub
    from vllm_fleet.local.sandbox.registry import ensure_registry

    ensure_registry(client, log)
    ensure_hub(log=log)


def publish_model(log=print) -> bool:
    """Put MODEL on the local hub, made (or reused) from the built cpu image; False, saying what
    to run, when there is no cpu image yet."""
    from vllm_fleet.images.manifest import load_manifest, manifest_path
    from vllm_fleet.local.hub.container import HUB_REPOS, publish
    from vllm_fleet.local.tinymodel.build import build_tiny_model
    from vllm_fleet.serving.models import load_model

    try:
        image = load_manifest(manifest_path("cpu")).tags[0]
        engine().images.get(image)
    except (FleetError, docker.errors.ImageNotFound):
        log(
            f"no cpu image yet, so no {MODEL} on the local hub: `invoke build --target cpu`, "
            "then `invoke sandbox.up` again (or `invoke demo`)"
        )
        return False
    build_tiny_model(image, TINY_MODEL_DIR)
    publish(TINY_MODEL_DIR, load_model(MODEL).repo_id, HUB_REPOS)
    log(f"local hub: {MODEL} from {TINY_MODEL_DIR}")
    return True


def _host_containers(client: docker.DockerClient) -> list:
    return client.containers.list(all=True, filters={"label": [LABEL, INDEX_LABEL]})


def _remove_host(client: docker.DockerClient, container, log) -> None:
    host = SandboxHost(int(container.labels[INDEX_LABEL]))
    container.remove(force=True, v=True)
    with contextlib.suppress(docker.errors.NotFound):
        client.volumes.get(host.volume).remove(force=True)
    log(f"removed {host.container} (above the host count)")


def _ensure_host(client: docker.DockerClient, host: SandboxHost, log):
    try:
        container = client.containers.get(host.container)
    except docker.errors.NotFound:
        log(
            f"starting {host.container} (ssh on 127.0.0.1:{host.ssh_port}, vLLM on "
            f"127.0.0.1:{host.vllm_port})"
        )
        return _start(client, host)
    if container.status != "running":
        container.start()
    return container


def _ensure_key(key: Path) -> str:
    """An ed25519 key pair for the sandbox (made once); returns the public key line."""
    if not key.exists():
        key.parent.mkdir(parents=True, exist_ok=True)
        private = Ed25519PrivateKey.generate()
        key.touch(mode=0o600)
        key.write_bytes(
            private.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.OpenSSH,
                serialization.NoEncryption(),
            )
        )
        public = private.public_key().public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        )
        key.with_suffix(".pub").write_text(public.decode() + " vllm-fleet-sandbox\n")
    return key.with_suffix(".pub").read_text()


def _start(client: docker.DockerClient, host: SandboxHost):
    return client.containers.run(
        HOST_IMAGE,
        name=host.container,
        hostname=host.container,
        detach=True,
        # What systemd and nested Docker need here; --privileged is refused on this kind of
        # machine ("unable to apply caps"), these are enough (docs/architecture.md).
        cap_add=["SYS_ADMIN", "NET_ADMIN"],
        security_opt=["seccomp=unconfined", "apparmor=unconfined"],
        cgroupns="host",
        tmpfs={"/run": "", "/run/lock": ""},
        volumes={
            "/sys/fs/cgroup": {"bind": "/sys/fs/cgroup", "mode": "rw"},
            ensure_volume(client, host.volume): {"bind": "/var/lib/docker", "mode": "rw"},
        },
        ports={
            "22/tcp": ("127.0.0.1", host.ssh_port),
            **{f"{port}/tcp": ("127.0.0.1", port) for port in host.published_ports},
        },
        network=NETWORK,
        labels={LABEL: "1", INDEX_LABEL: str(host.index)},
    )


def _install_key(container, public_key: str) -> None:
    data = public_key.encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo(".ssh/authorized_keys")
        info.size, info.mode = len(data), 0o600
        tar.addfile(info, io.BytesIO(data))
    container.put_archive("/root", buffer.getvalue())


def _wait_until_ready(container, host: SandboxHost, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    state = ""
    while time.monotonic() < deadline:
        state = container.exec_run(["systemctl", "is-system-running"]).output.decode().strip()
        if state in ("running", "degraded") and _ssh_banner(host.ssh_port):
            return
        time.sleep(1)
    raise SandboxError(
        f"{host.container} not ready after {timeout:.0f} s (systemd: "
        f"{state or '?'}); see `docker logs {host.container}`"
    )


def _ssh_banner(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            return sock.recv(16).startswith(b"SSH-")
    except OSError:
        return False
