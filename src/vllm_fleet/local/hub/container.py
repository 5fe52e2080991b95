"""Run the local hub (server.py) as a container on the sandbox network.

The sandbox host reaches it by name (``http://vllm-fleet-hub:8080``), the way a real host reaches
huggingface.co or a site mirror; the controller reaches it on a loopback port for its byte count.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import docker.errors

from vllm_fleet.docker_engine import engine
from vllm_fleet.errors import FleetError
from vllm_fleet.local.sandbox import HOST_IMAGE, LABEL, NETWORK, ensure_host_image, ensure_network
from vllm_fleet.paths import BUILD_DIR

HUB_CONTAINER = "vllm-fleet-hub"
HUB_PORT = 8080
# Where the sandbox hosts reach it (by name, on the sandbox network): their hf_endpoint.
HUB_URL = f"http://{HUB_CONTAINER}:{HUB_PORT}"
SERVER_SCRIPT = Path(__file__).with_name("server.py")
# What `invoke sandbox.up` and the demo serve: build/hub/<org>/<name>, on this loopback port.
HUB_REPOS = BUILD_DIR / "hub"
HUB_LOCAL_PORT = 18080


@dataclass(frozen=True)
class HubContainer:
    url: str  # as the sandbox host sees it
    local_url: str  # as the controller sees it

    def stats(self) -> dict:
        with urllib.request.urlopen(f"{self.local_url}/_stats", timeout=5) as response:
            return json.load(response)


def ensure_hub(repos: Path | None = None, local_port: int | None = None, log=print) -> HubContainer:
    """The hub serving ``repos`` (default HUB_REPOS), started unless it already runs."""
    repos, local_port = repos or HUB_REPOS, local_port or HUB_LOCAL_PORT
    hub = HubContainer(url=HUB_URL, local_url=f"http://127.0.0.1:{local_port}")
    try:
        running = engine().containers.get(HUB_CONTAINER).status == "running"
    except docker.errors.NotFound:
        running = False
    if running:
        _wait(hub)
        return hub
    repos.mkdir(parents=True, exist_ok=True)
    return start_hub(repos, local_port, log=log)


def start_hub(
    repos: Path, local_port: int, token_file: Path | None = None, log=print
) -> HubContainer:
    """(Re)start the hub serving ``repos``; gated repos accept the token in ``token_file``."""
    client = engine()
    ensure_host_image(client, log)
    ensure_network(client)
    with contextlib.suppress(docker.errors.NotFound):
        client.containers.get(HUB_CONTAINER).remove(force=True)
    volumes = {
        str(SERVER_SCRIPT): {"bind": "/hub/server.py", "mode": "ro"},
        str(repos.resolve()): {"bind": "/repos", "mode": "ro"},
    }
    command = [
        "python3",
        "/hub/server.py",
        "--root",
        "/repos",
        "--host",
        "0.0.0.0",
        "--port",
        str(HUB_PORT),
    ]
    if token_file:
        volumes[str(token_file.resolve())] = {"bind": "/hub/token", "mode": "ro"}
        command += ["--token-file", "/hub/token"]
    client.containers.run(
        HOST_IMAGE,
        command,
        name=HUB_CONTAINER,
        hostname=HUB_CONTAINER,
        detach=True,
        network=NETWORK,
        volumes=volumes,
        ports={f"{HUB_PORT}/tcp": ("127.0.0.1", local_port)},
        labels={LABEL: "1"},
    )
    hub = HubContainer(url=HUB_URL, local_url=f"http://127.0.0.1:{local_port}")
    _wait(hub)
    log(f"local hub serving {repos} at {hub.url}")
    return hub


def publish(model_dir: Path, repo_id: str, repos: Path = HUB_REPOS) -> Path:
    """Lay a model out as the hub serves it (<repos>/<org>/<name>), replacing older files."""
    repo = repos / repo_id
    shutil.rmtree(repo, ignore_errors=True)
    shutil.copytree(model_dir, repo, ignore=shutil.ignore_patterns(".*"))
    return repo


def serves(repo_id: str, revision: str, local_port: int = HUB_LOCAL_PORT) -> str | None:
    """None if the hub on ``local_port`` serves ``repo_id@revision``, else what is wrong."""
    url = f"http://127.0.0.1:{local_port}/api/models/{repo_id}/revision/{revision}"
    try:
        with urllib.request.urlopen(url, timeout=5):
            return None
    except urllib.error.HTTPError as err:
        return f"the local hub has no {repo_id}@{revision} (HTTP {err.code})"
    except OSError as err:
        return f"the local hub does not answer on 127.0.0.1:{local_port} ({err})"


def _wait(hub: HubContainer, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            hub.stats()
            return
        except OSError:
            time.sleep(0.3)
    raise FleetError(
        f"local hub did not answer at {hub.local_url} within {timeout:.0f} s; "
        f"see `docker logs {HUB_CONTAINER}`"
    )
