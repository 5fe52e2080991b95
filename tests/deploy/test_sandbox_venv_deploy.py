"""The venv runtime end to end: the same deploy with `runtime=venv` installs vLLM into a
virtualenv on the sandbox host (the image's own install steps, with this machine's CA bundle and
CPU torch wheel as site inputs) and the unit runs it; a second run changes nothing.

Runs after test_sandbox_deploy.py on the same host, so it also shows a host moving from the
container runtime to the venv runtime: the container is gone, the venv serves.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from vllm_fleet.images.manifest import ImageManifest
from vllm_fleet.images.site import site_build_options
from vllm_fleet.local import sandbox
from vllm_fleet.local.hub.container import HubContainer

from .sandbox_harness import URL, Deployment, chat, first_deploy, invocation, totals

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def venv_deployment(
    sandbox_host: sandbox.SandboxHost,
    local_hub: HubContainer,
    pushed_manifest: ImageManifest,
    cpu_build_dir: Path,
) -> Deployment:
    site = site_build_options()
    extra = ["--data", "runtime=venv"]
    if site.ca_bundle:
        extra += ["--data", f"site_ca_bundle={site.ca_bundle}"]
    if site.wheelhouse:
        extra += ["--data", f"site_wheelhouse={site.wheelhouse}"]
    return first_deploy(cpu_build_dir / "images", *extra)


def test_venv_runtime_serves_the_model(venv_deployment: Deployment, host) -> None:
    assert venv_deployment.first.returncode == 0, venv_deployment.first.stdout[-4000:]
    assert httpx.get(f"{URL}/health", timeout=10).status_code == 200
    assert chat(venv_deployment.api_key).json()["choices"][0]["message"]["reasoning"]
    main_pid = host.check_output("systemctl show -p MainPID --value vllm-serve.service")
    command = host.check_output(f"cat /proc/{main_pid}/cmdline | tr '\\0' ' '")
    assert "/opt/vllm-fleet/venv/bin/" in command and "docker" not in command
    assert host.check_output("docker ps -q 2>/dev/null || true") == ""


def test_venv_server_runs_confined(venv_deployment: Deployment, host) -> None:
    """The hardening of the venv unit holds for the real server, which still serves and passed
    the ready gate's smoke checks: its own account, no privilege gain, the API key readable by
    that account's group only."""
    assert "smoke:" in (venv_deployment.first.stdout if venv_deployment.first else "")
    main_pid = host.check_output("systemctl show -p MainPID --value vllm-serve.service")
    assert host.check_output(f"ps -o user= -p {main_pid}") == "vllm"
    status = host.check_output(f"cat /proc/{main_pid}/status")
    assert "NoNewPrivs:\t1" in status
    key = host.file("/etc/vllm-fleet/vllm-api-key")
    assert (key.user, key.group, key.mode) == ("root", "vllm", 0o640)
    token = host.file("/etc/vllm-fleet/hf-token")
    assert (token.user, token.group, token.mode) == ("root", "root", 0o600)
    # ProtectSystem=strict: the server sees / read-only, the data folder read-write.
    mounts = {
        fields[4]: fields[5].split(",")
        for fields in (
            line.split()
            for line in host.check_output(f"cat /proc/{main_pid}/mountinfo").splitlines()
        )
    }
    assert "ro" in mounts["/"] and "rw" in mounts["/var/lib/vllm-fleet"]
    unit = host.file("/etc/systemd/system/vllm-serve.service").content_string
    assert "ProtectSystem=strict\n" in unit and "KillMode=mixed\n" in unit


def test_venv_second_deploy_changes_nothing(venv_deployment: Deployment, host) -> None:
    """A host's first venv deploy creates the `vllm` account after pyinfra read the file owners
    (facts come before operations), so it chowns the data folders in that same run: the second
    run has nothing left to do."""
    before = invocation(host)
    second = venv_deployment.run()
    assert second.returncode == 0, second.stdout[-3000:]
    assert totals(second)[:2] == ("-", "-"), second.stdout[-3000:]
    assert invocation(host) == before
