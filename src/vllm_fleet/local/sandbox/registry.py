"""The sandbox's image registry: Debian's `docker-registry` (distribution 2.8) in a container on
the sandbox network, storage in a Docker volume, serving TLS with a certificate from a CA made
under build/sandbox/registry/.

Two names reach it: the hosts pull from ``vllm-fleet-registry:5000`` (its name on the sandbox
network), the controller pushes to ``127.0.0.1:5000`` (published on loopback only). A repo digest
names content, so the digest `invoke push` records under one name is the image the hosts pull
under the other (inventory/group_data/sandbox.py: image_registry, image_registry_push_address).

Why TLS with a CA rather than `insecure-registries`: the hosts then pull exactly as production
hosts pull from a site registry with a private CA (the deploy installs the CA as
/etc/docker/certs.d/<registry>/ca.crt, https://docs.docker.com/engine/security/certificates/),
and the hosts' /etc/docker/daemon.json stays the one production gets. The controller needs no
configuration: Docker treats registries on 127.0.0.0/8 as insecure by default
(https://docs.docker.com/reference/cli/dockerd/#insecure-registries), so it pushes to
127.0.0.1:5000 without trusting the CA.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import time
from pathlib import Path

import docker
import docker.errors
import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from vllm_fleet.errors import FleetError
from vllm_fleet.local.sandbox import LABEL, NETWORK, build_local_image, ensure_volume
from vllm_fleet.paths import BUILD_DIR, IMAGES_DIR

REGISTRY_IMAGE = "vllm-fleet-local/registry:bookworm"
REGISTRY_DOCKERFILE_DIR = IMAGES_DIR / "sandbox-registry"
CONTAINER = "vllm-fleet-registry"
PORT = 5000  # where it listens (images/sandbox-registry/config.yml: http.addr)
LOCAL_PORT = 5000  # where it is published on the controller's loopback
VOLUME = "vllm-fleet-registry-data"
HOST_ADDRESS = f"{CONTAINER}:{PORT}"  # as the sandbox hosts reach it
LOCAL_ADDRESS = f"127.0.0.1:{LOCAL_PORT}"  # as the controller reaches it
TLS_DIR = BUILD_DIR / "sandbox" / "registry"
CA_CERT = TLS_DIR / "ca.crt"
_CA_KEY = TLS_DIR / "ca.key"
_SERVER_DIR = TLS_DIR / "tls"  # mounted into the registry: its certificate and key only
_CERT_DAYS = 365


class RegistryError(FleetError):
    """The sandbox registry could not be made or does not answer."""


def ensure_registry(client: docker.DockerClient, log=print) -> str:
    """Start the registry unless it runs; return the address the controller pushes to."""
    build_local_image(client, REGISTRY_IMAGE, REGISTRY_DOCKERFILE_DIR, log)
    fresh_certificates = ensure_certificates()
    try:
        container = client.containers.get(CONTAINER)
        if fresh_certificates:  # it serves the key pair it read at start: start it anew
            container.remove(force=True)
            raise docker.errors.NotFound(CONTAINER)
        if container.status != "running":
            container.start()
    except docker.errors.NotFound:
        log(
            f"starting {CONTAINER} (hosts pull from {HOST_ADDRESS}, the controller pushes to "
            f"{LOCAL_ADDRESS})"
        )
        client.containers.run(
            REGISTRY_IMAGE,
            name=CONTAINER,
            hostname=CONTAINER,
            detach=True,
            network=NETWORK,
            volumes={
                ensure_volume(client, VOLUME): {"bind": "/var/lib/docker-registry", "mode": "rw"},
                str(_SERVER_DIR): {"bind": "/etc/docker/registry/tls", "mode": "ro"},
            },
            ports={f"{PORT}/tcp": ("127.0.0.1", LOCAL_PORT)},
            labels={LABEL: "1"},
        )
    _wait_until_answering()
    return LOCAL_ADDRESS


def ensure_certificates() -> bool:
    """The sandbox CA and the registry's certificate (for its network name and loopback), made
    once (True when made now); the CA's key stays on the controller, only the server pair is
    mounted."""
    if CA_CERT.exists() and (_SERVER_DIR / "server.crt").exists():
        return False
    _SERVER_DIR.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "vllm-fleet sandbox CA")])
    ca = (
        _builder(ca_name, ca_name, ca_key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    # Go's TLS (the registry, dockerd) matches names against the SAN only, never the CN.
    names = x509.SubjectAlternativeName(
        [
            x509.DNSName(CONTAINER),
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        ]
    )
    server = (
        _builder(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CONTAINER)]),
            ca_name,
            server_key.public_key(),
        )
        .add_extension(names, critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    _write_key(_CA_KEY, ca_key)
    _write_key(_SERVER_DIR / "server.key", server_key)  # the registry runs as root
    (_SERVER_DIR / "server.crt").write_bytes(server.public_bytes(serialization.Encoding.PEM))
    CA_CERT.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return True


def _builder(subject: x509.Name, issuer: x509.Name, public_key) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=_CERT_DAYS))
    )


def _write_key(path: Path, key) -> None:
    path.touch(mode=0o600)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def _wait_until_answering(timeout: float = 30) -> None:
    """Until GET /v2/ answers over TLS, verified against the sandbox CA."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        try:
            if (
                httpx.get(
                    f"https://{LOCAL_ADDRESS}/v2/",
                    timeout=2,
                    verify=ssl.create_default_context(cafile=CA_CERT),
                ).status_code
                == 200
            ):
                return
        except httpx.HTTPError as err:
            last = str(err)
        time.sleep(0.3)
    raise RegistryError(
        f"{CONTAINER} did not answer at https://{LOCAL_ADDRESS}/v2/ within "
        f"{timeout:.0f} s ({last}); see `docker logs {CONTAINER}`"
    )
