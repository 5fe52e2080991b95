"""End to end on one host (N=1: `--limit sandbox-1`): `pyinfra inventory/sandbox.py
deploy/serve.py` over real SSH into the sandbox host (systemd, Docker installed by the deploy),
the real `cpu` image pulled by digest from the sandbox registry and run by the unit, weights from
the local hub, real vLLM answering. Then: a second run changes nothing, a changed spec restarts
once, bad input is refused with the running service left alone, and secrets are found nowhere.

Tests run in file order and share one deployed host (module fixtures): each vLLM start costs
tens of seconds on this machine.
"""

from __future__ import annotations

import re
import secrets
import subprocess
from pathlib import Path

import httpx
import pytest

from vllm_fleet.images.manifest import ImageManifest
from vllm_fleet.local import sandbox
from vllm_fleet.local.hub.container import HubContainer
from vllm_fleet.local.sandbox import registry
from vllm_fleet.paths import REPO_ROOT

from .sandbox_harness import (
    MODEL,
    PYINFRA,
    URL,
    Deployment,
    chat,
    first_deploy,
    invocation,
    totals,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def deployment(
    sandbox_host: sandbox.SandboxHost,
    local_hub: HubContainer,
    pushed_manifest: ImageManifest,
    cpu_build_dir: Path,
) -> Deployment:
    return first_deploy(cpu_build_dir / "images")


def test_first_deploy_serves_the_model(deployment: Deployment) -> None:
    assert deployment.first.returncode == 0, deployment.first.stdout[-4000:]
    assert httpx.get(f"{URL}/health", timeout=10).status_code == 200
    answer = chat(deployment.api_key).json()["choices"][0]["message"]
    assert answer["content"] and answer["reasoning"]
    assert "ready after" in deployment.first.stdout


def test_weights_come_from_the_hub_once(
    deployment: Deployment, local_hub: HubContainer, tiny_model_dir: Path
) -> None:
    size = sum(
        p.stat().st_size
        for p in tiny_model_dir.iterdir()
        if p.is_file() and not p.name.startswith(".")
    )
    assert local_hub.stats()["bytes_served"] == size


def test_second_deploy_changes_nothing(deployment: Deployment, host) -> None:
    before = invocation(host)
    second = deployment.run()
    assert second.returncode == 0, second.stdout[-3000:]
    success, error, _ = totals(second)
    assert (success, error) == ("-", "-"), second.stdout[-3000:]
    assert invocation(host) == before, "a healthy service was restarted"


def test_host_state(deployment: Deployment, host) -> None:
    service = host.service("vllm-serve")
    assert service.is_enabled and service.is_running
    unit = host.file("/etc/systemd/system/vllm-serve.service")
    assert unit.mode == 0o644 and "Type=exec" in unit.content_string
    secrets_dir = host.file("/etc/vllm-fleet")
    assert secrets_dir.is_directory and secrets_dir.mode == 0o700 and secrets_dir.user == "root"
    # The HF token is the deploy's alone; the API key is read by the server's user too (in a
    # container: root:root 0640, so a --non-root image, group 0, can read it).
    for name, mode in (("hf-token", 0o600), ("vllm-api-key", 0o640)):
        credential = host.file(f"/etc/vllm-fleet/{name}")
        assert (credential.mode, credential.user, credential.group) == (mode, "root", "root")
    assert host.file("/etc/docker/daemon.json").contains('"max-size": "100m"')
    # Pulled as production pulls: by digest, from the registry, over TLS with the sandbox CA.
    assert f"pull {registry.HOST_ADDRESS}/vllm-fleet/cpu@sha256:" in unit.content_string
    ca = host.file(f"/etc/docker/certs.d/{registry.HOST_ADDRESS}/ca.crt")
    assert ca.content_string == registry.CA_CERT.read_text()
    assert host.file(
        f"/var/lib/vllm-fleet/huggingface/hub/models--{MODEL.repo_id.replace('/', '--')}"
    ).is_directory


def test_api_key_is_required(deployment: Deployment) -> None:
    assert chat("wrong-key").status_code == 401
    assert chat(deployment.api_key).status_code == 200


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
            '[ $(( 0$(stat -c %a "$f") & 4 )) -ne 0 ] && echo "$f"; done; true'.format(*canaries)
        ).stdout,
    }
    for place, text in places.items():
        for canary in canaries:
            assert canary not in text, f"secret found in {place}"
    # The files that must hold them do (the canary would pass vacuously otherwise).
    assert deployment.api_key in host.check_output("cat /etc/vllm-fleet/vllm-api-key")


def test_a_rotated_key_at_vvv_diff_shows_neither_key(deployment: Deployment, host) -> None:
    """The credential upload of a rotation (the remote file exists and differs) under --diff,
    where pyinfra's files.put would print both the old and the new contents."""
    old_key, new_key = deployment.api_key, f"sk-canary{secrets.token_hex(8)}"
    deployment.env["VLLM_API_KEY"] = deployment.api_key = new_key
    rotated = deployment.run("--diff", verbosity="-vvv")
    assert rotated.returncode == 0, rotated.stdout[-3000:]
    assert old_key not in rotated.stdout and new_key not in rotated.stdout
    assert "Credential vllm_api_key" in rotated.stdout
    assert chat(old_key).status_code == 401 and chat(new_key).status_code == 200


def test_an_empty_key_is_refused_and_auth_stays(deployment: Deployment) -> None:
    refused = subprocess.run(
        [
            str(PYINFRA),
            "inventory/sandbox.py",
            "deploy/serve.py",
            "-y",
            "--data",
            f"image_manifest_dir={deployment.manifest_dir}",
        ],
        cwd=REPO_ROOT,
        env={**deployment.env, "VLLM_API_KEY": ""},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=600,
    )
    assert refused.returncode != 0
    assert re.search(
        r"--> pyinfra error.*VLLM_API_KEY is set but empty on this machine", refused.stdout
    ), refused.stdout[-2000:]
    assert "--> Beginning operation run" not in refused.stdout
    assert chat("wrong-key").status_code == 401 and chat(deployment.api_key).status_code == 200


def test_a_changed_spec_restarts_once(deployment: Deployment, host) -> None:
    before = invocation(host)
    changed = deployment.run("--data", "vllm_restart_delay_s=31")
    assert changed.returncode == 0, changed.stdout[-3000:]
    assert re.search(
        r"Restart vllm-serve\.service for its new configuration\s+1\s+1\s+-", changed.stdout
    ), changed.stdout[-3000:]
    after = invocation(host)
    assert after != before
    again = deployment.run("--data", "vllm_restart_delay_s=31")
    assert totals(again)[0] == "-" and invocation(host) == after


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("gpu_vendor=intel", r"gpu_vendor: 'intel' is not valid; valid: nvidia, amd, none"),
        ("vllm_port=70000", r"vllm_port: 70000 is not a TCP port \(1-65535\)"),
        ("profile=throughput", r"profile .*throughput"),
        ("vllm_unit_name=../evil", r"vllm_unit_name: '\.\./evil' is not a valid unit name"),
        ("vllm_port=22", r"vllm_port: 22 is a well-known system port"),
        (
            "vllm_data_dir=relative/dir",
            r"vllm_data_dir: 'relative/dir' is not an absolute, shell-safe",
        ),
    ],
)
def test_bad_input_is_refused_and_the_service_keeps_running(
    deployment: Deployment, host, data: str, message: str
) -> None:
    before = invocation(host)
    refused = deployment.run("--data", data)
    output = refused.stdout
    assert refused.returncode != 0
    assert re.search(rf"--> pyinfra error.*{message}", output), output[-2000:]
    assert "Traceback" not in output
    assert "--> Beginning operation run" not in output
    assert invocation(host) == before
    assert httpx.get(f"{URL}/health", timeout=10).status_code == 200


def test_unreachable_host_is_one_clear_error(deployment: Deployment) -> None:
    refused = deployment.run("--data", "ssh_port=2299")
    output = refused.stdout
    assert refused.returncode != 0
    assert "Could not connect" in output or "No hosts remaining" in output, output[-2000:]
    assert httpx.get(f"{URL}/health", timeout=10).status_code == 200
