"""What the sandbox deploy tests share: the local hub serving the tiny model, a way to run the
real deploy with the test run's image manifest (pushed to the sandbox registry) and canary
secrets, on host 1 alone (N=1) or on every host that is up (N=3), testinfra, result parsing."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import testinfra

from vllm_fleet.images.manifest import ImageManifest
from vllm_fleet.local import sandbox
from vllm_fleet.local.hub.container import HUB_CONTAINER, HUB_LOCAL_PORT, HubContainer, start_hub
from vllm_fleet.paths import REPO_ROOT
from vllm_fleet.serving.models import load_model

PYINFRA = Path(sys.executable).parent / "pyinfra"
MODEL = load_model("kimi-tiny")
HOST_1 = sandbox.SandboxHost(1)
URL = HOST_1.url
UNIT = "vllm-serve.service"


@dataclass
class Deployment:
    """How the tests run the deploy: the test run's manifests, canary secrets in the env."""

    manifest_dir: Path
    env: dict[str, str]
    hf_token: str
    api_key: str
    extra: tuple[str, ...] = ()  # --data options of every run of this deployment
    first: subprocess.CompletedProcess | None = None
    limit: str | None = HOST_1.name  # None: every host that is up

    def run(
        self, *extra: str, verbosity: str = "-v", deploy: str = "deploy/serve.py"
    ) -> subprocess.CompletedProcess:
        limit = ["--limit", self.limit] if self.limit else []
        return subprocess.run(
            [
                str(PYINFRA),
                "inventory/sandbox.py",
                deploy,
                "-y",
                verbosity,
                *limit,
                "--data",
                f"image_manifest_dir={self.manifest_dir}",
                *self.extra,
                *extra,
            ],
            cwd=REPO_ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=1200,
        )


@pytest.fixture(scope="session")
def local_hub(
    tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HubContainer]:
    repos = tmp_path_factory.mktemp("hub")
    shutil.copytree(tiny_model_dir, repos / MODEL.repo_id, ignore=shutil.ignore_patterns(".*"))
    yield start_hub(repos, HUB_LOCAL_PORT, log=lambda _line: None)
    subprocess.run(["docker", "rm", "-f", HUB_CONTAINER], capture_output=True)


def first_deploy(manifest_dir: Path, *extra: str, limit: str | None = HOST_1.name) -> Deployment:
    """Deploy with canary secrets, at the highest verbosity (searched for secrets later)."""
    hf_token, api_key = f"hf_canary{secrets.token_hex(8)}", f"sk-canary{secrets.token_hex(8)}"
    env = {**os.environ, "HF_TOKEN": hf_token, "VLLM_API_KEY": api_key}
    deployment = Deployment(manifest_dir, env, hf_token, api_key, extra=extra, limit=limit)
    started = time.monotonic()
    deployment.first = deployment.run(verbosity="-vvv")
    print(
        f"first deploy ({' '.join(extra) or 'container'}, {limit or 'every host'}): "
        f"{time.monotonic() - started:.0f} s"
    )
    return deployment


@pytest.fixture(scope="session")
def fleet_deployment(
    sandbox_fleet: list[sandbox.SandboxHost],
    local_hub: HubContainer,
    pushed_manifest: ImageManifest,
    cpu_build_dir: Path,
) -> Deployment:
    """Every sandbox host deployed at once (container runtime, the pushed digest, canary
    secrets): the fleet that the fleet, router and monitoring tests stand on. Its runs may
    restart every host together (allow_pool_down): a test's reset, not a rollout, so a
    module starts from the fleet as deployed whatever an earlier one changed."""
    return first_deploy(cpu_build_dir / "images", "--data", "allow_pool_down=true", limit=None)


@pytest.fixture(scope="module")
def served_fleet(fleet_deployment: Deployment) -> Deployment:
    """fleet_deployment as a module finds it: deployed again, so what an earlier module changed
    (host 1 on the venv runtime, the demo's keyless deploy) is put back; a no-op otherwise."""
    result = fleet_deployment.run()
    assert result.returncode == 0, result.stdout[-4000:]
    return fleet_deployment


def ssh_host(sandbox_host: sandbox.SandboxHost):
    return testinfra.get_host(
        f"paramiko://root@127.0.0.1:{sandbox_host.ssh_port}", ssh_identity_file=str(sandbox.SSH_KEY)
    )


@pytest.fixture(scope="session")
def host(sandbox_host: sandbox.SandboxHost):
    return ssh_host(sandbox_host)


def totals(result: subprocess.CompletedProcess) -> tuple[str, str, str]:
    """(success, error, no change) of pyinfra's results table."""
    match = re.search(r"Grand total\s+\d+\s+(\S+)\s+(\S+)\s+(\S+)", result.stdout)
    assert match, result.stdout[-2000:]
    return match.groups()


def invocation(host) -> str:
    return host.check_output(f"systemctl show -p InvocationID --value {UNIT}")


def chat(api_key: str, url: str = URL) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/chat/completions",
        timeout=60,
        headers={"Authorization": f"Bearer {api_key}"},
        json={
            "model": MODEL.served_model_name,
            "max_tokens": 64,
            "temperature": 0,
            "messages": [{"role": "user", "content": "What is 2+2?"}],
        },
    )
