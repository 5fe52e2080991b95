"""End to end: `pyinfra inventory/sandbox.py deploy/serve.py` over real SSH into the sandbox host
(systemd, Docker installed by the deploy), the real `cpu` image run by the unit, weights from the
local hub, real vLLM answering. Then: a second run changes nothing, a changed spec restarts once,
bad input is refused with the running service left alone, and secrets are found nowhere.

Tests run in file order and share one deployed host (module fixtures): each vLLM start costs
tens of seconds on this machine.
"""

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

from vllm_fleet import sandbox
from vllm_fleet.hub.container import HUB_CONTAINER, HubContainer, start_hub
from vllm_fleet.images.manifest import ImageManifest
from vllm_fleet.paths import REPO_ROOT
from vllm_fleet.serving.models import load_model

pytestmark = pytest.mark.slow

PYINFRA = Path(sys.executable).parent / "pyinfra"
MODEL = load_model("kimi-tiny")
URL = "http://127.0.0.1:8000"
UNIT = "vllm-serve.service"
HUB_LOCAL_PORT = 18080


@dataclass
class Deployment:
    """How the tests run the deploy: the test run's manifests, canary secrets in the env."""

    manifest_dir: Path
    env: dict[str, str]
    hf_token: str
    api_key: str
    first: subprocess.CompletedProcess | None = None

    def run(self, *extra: str, verbosity: str = "-v") -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(PYINFRA), "inventory/sandbox.py", "deploy/serve.py", "-y", verbosity,
             "--data", f"image_manifest_dir={self.manifest_dir}", *extra],
            cwd=REPO_ROOT, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, timeout=1200)


@pytest.fixture(scope="module")
def local_hub(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
              ) -> Iterator[HubContainer]:
    repos = tmp_path_factory.mktemp("hub")
    shutil.copytree(tiny_model_dir, repos / MODEL.repo_id,
                    ignore=shutil.ignore_patterns(".*"))
    yield start_hub(repos, HUB_LOCAL_PORT, log=lambda _line: None)
    subprocess.run(["docker", "rm", "-f", HUB_CONTAINER], capture_output=True)


@pytest.fixture(scope="module")
def deployment(sandbox_host: sandbox.SandboxConfig, local_hub: HubContainer,
               cpu_manifest: ImageManifest, cpu_build_dir: Path) -> Deployment:
    """The first deploy onto the fresh sandbox, at the highest verbosity (searched for secrets)."""
    hf_token, api_key = f"hf_canary{secrets.token_hex(8)}", f"sk-canary{secrets.token_hex(8)}"
    env = {**os.environ, "HF_TOKEN": hf_token, "VLLM_API_KEY": api_key}
    deployment = Deployment(cpu_build_dir / "images", env, hf_token, api_key)
    started = time.monotonic()
    deployment.first = deployment.run(verbosity="-vvv")
    print(f"first deploy: {time.monotonic() - started:.0f} s")
    return deployment


@pytest.fixture(scope="module")
def host(sandbox_host: sandbox.SandboxConfig):
    return testinfra.get_host(f"paramiko://root@127.0.0.1:{sandbox_host.ssh_port}",
                              ssh_identity_file=str(sandbox_host.ssh_key))


def _totals(result: subprocess.CompletedProcess) -> tuple[str, str, str]:
    """(success, error, no change) of pyinfra's results table."""
    match = re.search(r"Grand total\s+\d+\s+(\S+)\s+(\S+)\s+(\S+)", result.stdout)
    assert match, result.stdout[-2000:]
    return match.groups()


def _invocation(host) -> str:
    return host.check_output(f"systemctl show -p InvocationID --value {UNIT}")


def _chat(api_key: str) -> httpx.Response:
    return httpx.post(f"{URL}/v1/chat/completions", timeout=60,
                      headers={"Authorization": f"Bearer {api_key}"},
                      json={"model": MODEL.served_model_name, "max_tokens": 64, "temperature": 0,
                            "messages": [{"role": "user", "content": "What is 2+2?"}]})


def test_first_deploy_serves_the_model(deployment: Deployment) -> None:
    assert deployment.first.returncode == 0, deployment.first.stdout[-4000:]
    assert httpx.get(f"{URL}/health", timeout=10).status_code == 200
    answer = _chat(deployment.api_key).json()["choices"][0]["message"]
    assert answer["content"] and answer["reasoning"]
    assert "ready after" in deployment.first.stdout


def test_weights_come_from_the_hub_once(deployment: Deployment, local_hub: HubContainer,
                                        tiny_model_dir: Path) -> None:
    size = sum(p.stat().st_size for p in tiny_model_dir.iterdir()
               if p.is_file() and not p.name.startswith("."))
    assert local_hub.stats()["bytes_served"] == size


def test_second_deploy_changes_nothing(deployment: Deployment, host) -> None:
    before = _invocation(host)
    second = deployment.run()
    assert second.returncode == 0, second.stdout[-3000:]
    success, error, _ = _totals(second)
    assert (success, error) == ("-", "-"), second.stdout[-3000:]
    assert _invocation(host) == before, "a healthy service was restarted"


def test_host_state(deployment: Deployment, host) -> None:
    service = host.service("vllm-serve")
    assert service.is_enabled and service.is_running
    unit = host.file("/etc/systemd/system/vllm-serve.service")
    assert unit.mode == 0o644 and "Type=exec" in unit.content_string
    secrets_dir = host.file("/etc/vllm-fleet")
    assert secrets_dir.is_directory and secrets_dir.mode == 0o700 and secrets_dir.user == "root"
    for name in ("hf-token", "vllm-api-key"):
        credential = host.file(f"/etc/vllm-fleet/{name}")
        assert (credential.mode, credential.user, credential.group) == (0o600, "root", "root")
    assert host.file("/etc/docker/daemon.json").contains('"max-size": "100m"')
    assert host.file(f"/var/lib/vllm-fleet/huggingface/hub/models--"
                     f"{MODEL.repo_id.replace('/', '--')}").is_directory


def test_api_key_is_required(deployment: Deployment) -> None:
    assert _chat("wrong-key").status_code == 401
    assert _chat(deployment.api_key).status_code == 200


def test_secrets_are_found_nowhere(deployment: Deployment, host) -> None:
    canaries = (deployment.hf_token, deployment.api_key)
    places = {
        "pyinfra -vvv output": deployment.first.stdout,
        "journal": host.check_output("journalctl --no-pager -o cat"),
        "command lines": host.check_output("ps -eo args"),
        "docker inspect": host.check_output("docker inspect vllm-serve"),
        "unit": host.file("/etc/systemd/system/vllm-serve.service").content_string,
        "world-readable files": host.run(
            "grep -rlsF -e {} -e {} /etc /var/lib/vllm-fleet /root /tmp /run /home "
            "--exclude-dir=proc 2>/dev/null | while read f; do "
            "[ $(( 0$(stat -c %a \"$f\") & 4 )) -ne 0 ] && echo \"$f\"; done; true"
            .format(*canaries)).stdout,
    }
    for place, text in places.items():
        for canary in canaries:
            assert canary not in text, f"secret found in {place}"
    # The files that must hold them do (the canary would pass vacuously otherwise).
    assert deployment.api_key in host.check_output("cat /etc/vllm-fleet/vllm-api-key")


def test_a_changed_spec_restarts_once(deployment: Deployment, host) -> None:
    before = _invocation(host)
    changed = deployment.run("--data", "vllm_restart_delay_s=31")
    assert changed.returncode == 0, changed.stdout[-3000:]
    assert re.search(r"Restart vllm-serve\.service for its new configuration\s+1\s+1\s+-",
                     changed.stdout), changed.stdout[-3000:]
    after = _invocation(host)
    assert after != before
    again = deployment.run("--data", "vllm_restart_delay_s=31")
    assert _totals(again)[0] == "-" and _invocation(host) == after


@pytest.mark.parametrize(("data", "message"), [
    ("gpu_vendor=intel", r"gpu_vendor: unknown gpu vendor 'intel'; valid: amd, none, nvidia"),
    ("vllm_port=70000", r"vllm_port: 70000 is not a TCP port \(1-65535\)"),
    ("profile=throughput", r"profile .*throughput"),
])
def test_bad_input_is_refused_and_the_service_keeps_running(deployment: Deployment, host,
                                                            data: str, message: str) -> None:
    before = _invocation(host)
    refused = deployment.run("--data", data)
    output = refused.stdout
    assert refused.returncode != 0
    assert re.search(rf"--> pyinfra error.*{message}", output), output[-2000:]
    assert "Traceback" not in output
    assert "--> Beginning operation run" not in output
    assert _invocation(host) == before
    assert httpx.get(f"{URL}/health", timeout=10).status_code == 200


def test_unreachable_host_is_one_clear_error(deployment: Deployment) -> None:
    refused = deployment.run("--data", "ssh_port=2299")
    output = refused.stdout
    assert refused.returncode != 0
    assert "Could not connect" in output or "No hosts remaining" in output, output[-2000:]
    assert httpx.get(f"{URL}/health", timeout=10).status_code == 200
