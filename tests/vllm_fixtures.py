"""Real vLLM on the CPU for tests: the Kimi-format tiny model, and servers of it in the cpu image.

Registered as a pytest plugin by tests/conftest.py. Every server is a container named
``vllm-fleet-test-…``, publishing its port on 127.0.0.1 only, removed by the fixture that started
it (also when a test fails). Each start costs ~20-30 s on 2 cores: tests share servers through
module and session fixtures.

The good server's flags and environment are not typed here: they are models/kimi-tiny.yaml's
(the parsers at the top, the ``cpu`` profile's runtime flags), the file the deploy serves the
tiny model from, so the tests prove the repository's own serving profile.

    def test_x(kimi_tiny_server):            # the good server, shared by the session
        run_smoke(kimi_tiny_server.url, SERVED_NAME)

    @pytest.fixture(scope="module")
    def bare_server(vllm_server):           # other flags: start one, stop it after the module
        server = vllm_server(BASE_ARGS)
        yield server
        server.stop()

benchmarks/smoke_timing.py uses the same helpers outside pytest (start_server, wait_ready).
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import docker
import docker.errors
import httpx
import pytest
from docker.models.containers import Container

from vllm_fleet.docker_engine import engine
from vllm_fleet.local.tinymodel import build_tiny_model
from vllm_fleet.serving.models import load_model
from vllm_fleet.serving.spec import flag_args

MODEL = load_model("kimi-tiny")
PROFILE = MODEL.profiles["cpu"]
SERVED_NAME = MODEL.served_model_name
MODEL_MOUNT = "/models/kimi-tiny"
CONTAINER_PORT = 8000


# The served name and the cpu profile's runtime flags: every test server has these.
BASE_ARGS: tuple[str, ...] = ("--served-model-name", SERVED_NAME, *flag_args(PROFILE.flags))
# The model's own flags: Kimi-K2's parsers (--enable-auto-tool-choice --tool-call-parser kimi_k2
# --reasoning-parser kimi_k2).
KIMI_PARSER_ARGS: tuple[str, ...] = flag_args(MODEL.flags)
# The good server, as the deploy serves kimi-tiny.
GOOD_SERVER_ARGS: tuple[str, ...] = BASE_ARGS + KIMI_PARSER_ARGS
# The profile's environment, plus what the deploy adds (offline) and no telemetry.
SERVER_ENV: dict[str, str] = {
    **{k: str(s.value) for k, s in MODEL.env.items()},
    **{k: str(s.value) for k, s in PROFILE.env.items()},
    "HF_HUB_OFFLINE": "1",
    "VLLM_NO_USAGE_STATS": "1",
    "DO_NOT_TRACK": "1",
}
START_TIMEOUT = 300.0  # ready in 16-35 s alone; far more while images build beside it


class ServerFailed(RuntimeError):
    """A test server died or did not become ready; the message ends with its log's tail."""


@dataclass
class VllmServer:
    """A running ``vllm serve`` container: its base URL, and how to read its log or stop it."""

    container: Container
    url: str
    args: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)

    def logs(self, tail: int = 40) -> str:
        try:
            return self.container.logs(tail=tail).decode(errors="replace")
        except docker.errors.NotFound:
            return "(container gone)"

    def wait_ready(self, timeout: float = START_TIMEOUT) -> float:
        """Poll /health until 200; ServerFailed with the log's tail if the container exits or
        time runs out. Returns the seconds it took."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            self.container.reload()
            if self.container.status not in ("created", "running"):
                raise ServerFailed(f"vLLM container {self.container.name} exited:\n{self.logs()}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.url}/health", timeout=5).status_code == 200:
                    return time.monotonic() - started
            time.sleep(0.5)
        raise ServerFailed(f"vLLM not ready after {timeout:.0f} s:\n{self.logs()}")

    def stop(self) -> None:
        with contextlib.suppress(docker.errors.NotFound):
            self.container.remove(force=True)


StartServer = Callable[..., VllmServer]


def start_server(
    client: docker.DockerClient,
    image: str,
    model_dir: Path,
    args: Sequence[str] = GOOD_SERVER_ARGS,
    env: dict[str, str] | None = None,
) -> VllmServer:
    """``docker run`` the tiny model with ``args``; returns at once (not waiting for ready)."""
    container = client.containers.run(
        image,
        command=[MODEL_MOUNT, "--host", "0.0.0.0", "--port", str(CONTAINER_PORT), *args],
        name=f"vllm-fleet-test-{uuid.uuid4().hex[:10]}",
        detach=True,
        ports={f"{CONTAINER_PORT}/tcp": ("127.0.0.1", None)},
        volumes={str(Path(model_dir).resolve()): {"bind": MODEL_MOUNT, "mode": "ro"}},
        environment={**SERVER_ENV, **(env or {})},
        labels={"ai.vllm-fleet.role": "test-server"},
    )
    try:
        container.reload()
        host_port = container.ports[f"{CONTAINER_PORT}/tcp"][0]["HostPort"]
    except (KeyError, IndexError, TypeError):
        log = container.logs(tail=40).decode(errors="replace")
        container.remove(force=True)
        raise ServerFailed(
            f"no published port for {container.name} ({container.status}):\n{log}"
        ) from None
    return VllmServer(container, f"http://127.0.0.1:{host_port}", tuple(args), env or {})


@pytest.fixture(scope="session")
def tiny_model_dir(cpu_image: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Kimi-format tiny model, trained in the cpu image from smoke/cases.yaml (~15 s)."""
    return build_tiny_model(cpu_image, tmp_path_factory.mktemp("tinymodel") / "kimi-tiny")


@pytest.fixture(scope="session")
def vllm_server(cpu_image: str, tiny_model_dir: Path) -> Iterator[StartServer]:
    """A factory: ``vllm_server(args=GOOD_SERVER_ARGS, env=None, ready=True)`` starts the tiny
    model in the cpu image with those ``vllm serve`` arguments (and extra environment), and
    returns a VllmServer once /health answers (at once with ``ready=False``). Whatever is still
    running at the end of the session is removed."""
    client = engine()
    started: list[VllmServer] = []

    def start(
        args: Sequence[str] = GOOD_SERVER_ARGS,
        *,
        env: dict[str, str] | None = None,
        ready: bool = True,
    ) -> VllmServer:
        server = start_server(client, cpu_image, tiny_model_dir, args, env)
        started.append(server)
        if ready:
            server.wait_ready()
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def kimi_tiny_server(vllm_server: StartServer) -> Iterator[VllmServer]:
    """The good server (GOOD_SERVER_ARGS), ready, shared by every test of the session."""
    server = vllm_server(GOOD_SERVER_ARGS)
    yield server
    server.stop()
