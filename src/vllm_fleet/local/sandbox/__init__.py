"""The sandbox: a local stand-in for a bare-metal GPU server, reached over real SSH.

It is a Debian 12 container running systemd as PID 1 and sshd, published on 127.0.0.1 only, with
a key generated for it. The deploy treats it like any host: it installs Docker inside it, writes
the unit, downloads weights and starts vLLM (CPU). Its Docker storage lives in a named volume so
that nested containers use overlay2. `invoke sandbox.up` is idempotent; `invoke sandbox.down`
removes everything `up` made. Why each container flag: docs/architecture.md.
"""

from __future__ import annotations

import io
import socket
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from vllm_fleet.docker_engine import engine, image_exists
from vllm_fleet.errors import FleetError
from vllm_fleet.local.localbase import ensure_local_base
from vllm_fleet.paths import IMAGES_DIR, INVENTORY_DIR, REPO_ROOT

HOST_IMAGE = "vllm-fleet-local/sandbox-host:bookworm"
HOST_DOCKERFILE_DIR = IMAGES_DIR / "sandbox-host"
CONTAINER = "vllm-fleet-sandbox"
DOCKER_VOLUME = "vllm-fleet-sandbox-docker"
# The sandbox's own network: the local hub container (vllm_fleet.local.hub) joins it, so the host
# reaches it by name, as a real host reaches huggingface.co or a site mirror.
NETWORK = "vllm-fleet-sandbox"
LABEL = "ai.vllm-fleet.sandbox"
SANDBOX_INVENTORY = INVENTORY_DIR / "sandbox.py"


@dataclass(frozen=True)
class SandboxConfig:
    """Where the sandbox is reached; inventory/sandbox.py is the source of these values."""

    ssh_port: int
    ssh_key: Path
    published_ports: tuple[int, ...]  # host ports the controller reaches on 127.0.0.1


class SandboxError(FleetError):
    """The sandbox host could not be made or did not come up."""


def config_from_inventory(path: Path = SANDBOX_INVENTORY) -> SandboxConfig:
    """Read the SSH port, key and vLLM port of the one host in inventory/sandbox.py."""
    from vllm_fleet.serving.inventory import load_inventory

    (host,) = load_inventory(path)
    key = Path(host.data["ssh_key"])
    return SandboxConfig(
        ssh_port=int(host.data["ssh_port"]),
        ssh_key=key if key.is_absolute() else REPO_ROOT / key,
        published_ports=(int(host.data["vllm_port"]),),
    )


def up(config: SandboxConfig, log=print) -> None:
    """Make the sandbox host unless it already runs; leave it reachable over SSH."""
    client = engine()
    ensure_host_image(client, log)
    public_key = _ensure_key(config.ssh_key)
    container = _running_container(client)
    if container is None:
        log(f"starting {CONTAINER} (ssh on 127.0.0.1:{config.ssh_port})")
        container = _start(client, config)
    else:
        log(f"{CONTAINER} already running")
    _install_key(container, public_key)
    _wait_until_ready(container, config.ssh_port)
    log(f"sandbox ready: ssh -p {config.ssh_port} -i {config.ssh_key} root@127.0.0.1")


def down(config: SandboxConfig, log=print) -> None:
    """Remove the container, its Docker volume, its network and its key: everything `up` made.

    Other containers on the sandbox network (the local hub) are removed with it.
    """
    client = engine()
    for container in client.containers.list(all=True, filters={"label": LABEL}):
        container.remove(force=True, v=True)
        log(f"removed {container.name}")
    for getter, name in ((client.volumes.get, DOCKER_VOLUME), (client.networks.get, NETWORK)):
        try:
            getter(name).remove()
            log(f"removed {name}")
        except docker.errors.NotFound:
            pass
    for path in (config.ssh_key, config.ssh_key.with_suffix(".pub")):
        path.unlink(missing_ok=True)


def ensure_host_image(client: docker.DockerClient, log) -> None:
    if image_exists(client, HOST_IMAGE):
        return
    base = ensure_local_base(log=log)
    log(f"building {HOST_IMAGE} from {base}")
    try:
        client.images.build(path=str(HOST_DOCKERFILE_DIR), tag=HOST_IMAGE,
                            buildargs={"BASE_IMAGE": base}, rm=True, pull=False)
    except docker.errors.BuildError as err:
        raise SandboxError(f"building {HOST_IMAGE} failed: {err.msg}") from err


def _ensure_key(key: Path) -> str:
    """An ed25519 key pair for the sandbox (made once); returns the public key line."""
    if not key.exists():
        key.parent.mkdir(parents=True, exist_ok=True)
        private = Ed25519PrivateKey.generate()
        key.touch(mode=0o600)
        key.write_bytes(private.private_bytes(serialization.Encoding.PEM,
                                              serialization.PrivateFormat.OpenSSH,
                                              serialization.NoEncryption()))
        public = private.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                                   serialization.PublicFormat.OpenSSH)
        key.with_suffix(".pub").write_text(public.decode() + " vllm-fleet-sandbox\n")
    return key.with_suffix(".pub").read_text()


def _running_container(client: docker.DockerClient):
    try:
        container = client.containers.get(CONTAINER)
    except docker.errors.NotFound:
        return None
    if container.status != "running":
        container.start()
    return container


def ensure_network(client: docker.DockerClient):
    try:
        return client.networks.get(NETWORK)
    except docker.errors.NotFound:
        return client.networks.create(NETWORK, driver="bridge", labels={LABEL: "1"})


def _start(client: docker.DockerClient, config: SandboxConfig):
    ensure_network(client)
    ports = {"22/tcp": ("127.0.0.1", config.ssh_port)}
    ports.update({f"{port}/tcp": ("127.0.0.1", port) for port in config.published_ports})
    return client.containers.run(
        HOST_IMAGE,
        name=CONTAINER,
        hostname=CONTAINER,
        detach=True,
        # What systemd and nested Docker need here; --privileged is refused on this kind of
        # machine ("unable to apply caps"), these are enough (docs/architecture.md).
        cap_add=["SYS_ADMIN", "NET_ADMIN"],
        security_opt=["seccomp=unconfined", "apparmor=unconfined"],
        cgroupns="host",
        tmpfs={"/run": "", "/run/lock": ""},
        volumes={
            "/sys/fs/cgroup": {"bind": "/sys/fs/cgroup", "mode": "rw"},
            DOCKER_VOLUME: {"bind": "/var/lib/docker", "mode": "rw"},
        },
        ports=ports,
        network=NETWORK,
        labels={LABEL: "1"},
    )


def _install_key(container, public_key: str) -> None:
    data = public_key.encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo(".ssh/authorized_keys")
        info.size, info.mode = len(data), 0o600
        tar.addfile(info, io.BytesIO(data))
    container.put_archive("/root", buffer.getvalue())


def _wait_until_ready(container, ssh_port: int, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    state = ""
    while time.monotonic() < deadline:
        state = container.exec_run(["systemctl", "is-system-running"]).output.decode().strip()
        if state in ("running", "degraded") and _ssh_banner(ssh_port):
            return
        time.sleep(1)
    raise SandboxError(f"{CONTAINER} not ready after {timeout:.0f} s (systemd: {state or '?'}); "
                       f"see `docker logs {CONTAINER}`")


def _ssh_banner(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            return sock.recv(16).startswith(b"SSH-")
    except OSError:
        return False
