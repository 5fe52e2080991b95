"""The router's three processes on this machine, for tests and benchmarks: vllm-router (pinned,
from PyPI, in build/router-venv), the worker reconciler and HAProxy (Debian's `haproxy`), run from
the same RouterSpec and rendered files the deploy installs, with free loopback ports instead of
the host's. What the deploy itself adds (systemd units, the system account, apt) is tested on
sandbox hosts; this is for measuring and exercising the request path.

    with LocalRouter.start(["http://127.0.0.1:8001", "http://127.0.0.1:8002"]) as router:
        run_smoke(router.url, "kimi-tiny")
"""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from vllm_fleet.errors import FleetError
from vllm_fleet.hostdata import HostSettings
from vllm_fleet.paths import BUILD_DIR
from vllm_fleet.router import render, router_workers
from vllm_fleet.router.spec import RouterSpec, Worker
from vllm_fleet.serving.spec import Credential

VENV = BUILD_DIR / "router-venv"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ensure_router_venv(version: str = HostSettings().router_version, venv: Path = VENV) -> Path:
    """build/router-venv with vllm-router==version (installed once, from PyPI)."""
    binary = venv / "bin" / "vllm-router"
    stamp = venv / f".vllm-router-{version}"
    if not stamp.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [
                str(venv / "bin" / "pip"),
                "install",
                "--quiet",
                "--disable-pip-version-check",
                f"vllm-router=={version}",
            ],
            check=True,
        )
        stamp.touch()
    return binary


@dataclass
class LocalRouter:
    spec: RouterSpec
    folder: Path
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.spec.url

    @property
    def admin(self) -> str:
        """vllm-router's own (loopback) address: where its admin routes answer."""
        return self.spec.backend

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.spec.settings.router_metrics_port}/metrics"

    @classmethod
    @contextlib.contextmanager
    def start(
        cls,
        workers: list[str],
        *,
        api_key: str | None = None,
        policy: str = "cache_aware",
        health_interval_s: int | None = None,
    ) -> Iterator[LocalRouter]:
        haproxy = shutil.which("haproxy")
        if haproxy is None:
            raise FleetError("haproxy is not installed on this machine: apt-get install haproxy")
        binary = ensure_router_venv()
        with tempfile.TemporaryDirectory(prefix="vllm-fleet-router-") as scratch:
            router = cls(
                _spec(
                    workers, Path(scratch), binary.parent.parent, api_key, policy, health_interval_s
                ),
                Path(scratch),
            )
            try:
                router._launch(haproxy, api_key)
                yield router
            finally:
                router.stop()

    def _launch(self, haproxy: str, api_key: str | None) -> None:
        spec = self.spec
        Path(spec.workers_file).parent.mkdir(parents=True, exist_ok=True)
        Path(spec.workers_file).write_text(render.workers_file(spec))
        if api_key:
            key_file = Path(spec.key_file)
            key_file.parent.mkdir(parents=True, exist_ok=True)
            key_file.write_text(f"Bearer {api_key}\n")
            key_file.chmod(0o600)
        config = self.folder / "haproxy.cfg"
        # No chroot and no log socket here: the rest is the host's configuration.
        config.write_text(
            render.haproxy_config(spec)
            .replace("    chroot /var/lib/haproxy\n", "")
            .replace("    log /dev/log local0\n", "")
        )
        self._spawn("vllm-router", spec.argv())
        self._spawn(
            "reconciler",
            [
                sys.executable,
                router_workers.__file__,
                "--router",
                spec.backend,
                "--workers-file",
                spec.workers_file,
                "--interval",
                "1",
            ],
        )
        self._spawn("haproxy", [haproxy, "-db", "-f", str(config)])
        self._wait(f"{spec.url}/health")

    def _spawn(self, name: str, argv: list[str]) -> None:
        log = (self.folder / f"{name}.log").open("w")
        self.processes[name] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)

    def _wait(self, url: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in self.processes.items():
                if proc.poll() is not None:
                    raise FleetError(f"{name} exited ({proc.returncode}):\n{self.log(name)}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(url, timeout=2).status_code == 200:
                    return
            time.sleep(0.3)
        raise FleetError(f"{url} not answering after {timeout:g} s")

    def held(self) -> set[str]:
        return router_workers.held(self.admin)

    def wait_for_workers(self, count: int, timeout: float = 120.0) -> float:
        """Seconds until the reconciler has added ``count`` workers."""
        started = time.monotonic()
        while len(self.held()) < count:
            if time.monotonic() - started > timeout:
                raise FleetError(
                    f"router holds {sorted(self.held())} after {timeout:g} s:\n"
                    f"{self.log('reconciler')}"
                )
            time.sleep(0.2)
        return time.monotonic() - started

    def worker_health(self) -> dict[str, float]:
        """vllm_router_worker_health per worker (1 in rotation, 0 out), from its exporter."""
        from vllm_fleet.smoke.metrics import parse_metrics

        samples = parse_metrics(httpx.get(self.metrics_url, timeout=5).text)
        return {
            s.labels["worker"]: s.value
            for s in samples
            if s.name == "vllm_router_worker_health" and "worker" in s.labels
        }

    def log(self, name: str) -> str:
        path = self.folder / f"{name}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def stop(self) -> None:
        for proc in self.processes.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
            if proc.poll() is None:
                proc.kill()


def _spec(
    workers: list[str],
    folder: Path,
    venv: Path,
    api_key: str | None,
    policy: str,
    health_interval_s: int | None,
) -> RouterSpec:
    port, backend, metrics = free_port(), free_port(), free_port()
    defaults = HostSettings()
    settings = dataclasses.replace(
        defaults,
        router_bind="127.0.0.1",
        router_port=port,
        router_backend_port=backend,
        router_metrics_port=metrics,
        router_venv_dir=str(venv),
        router_policy=policy,
        vllm_secrets_dir=str(folder / "secrets"),
        router_health_interval_s=health_interval_s or defaults.router_health_interval_s,
    )
    spec = RouterSpec(
        host="127.0.0.1",
        url=f"http://127.0.0.1:{port}",
        model="local",
        pool="local",
        workers=tuple(Worker(url, url) for url in workers),
        settings=settings,
        api_key=Credential("vllm_api_key", "VLLM_API_KEY", "test", "", "") if api_key else None,
    )
    # Files beside the scratch folder, not under the venv (the deploy's router_venv_dir/etc).
    return _with_config_dir(spec, folder)


def _with_config_dir(spec: RouterSpec, folder: Path) -> RouterSpec:
    @dataclass(frozen=True)
    class _Local(RouterSpec):
        @property
        def config_dir(self) -> str:
            return str(folder / "etc")

    return _Local(**{f.name: getattr(spec, f.name) for f in dataclasses.fields(spec)})
