"""The fleet's hub cache on the shared sandbox (3 hosts; host 1 is also the cache): olah in front
of the local hub, every host downloading through it (the fleet's Hub bytes are checked in
tests/deploy/test_sandbox_fleet.py). A download cut off halfway resumes from the cache; a
restarted cache still serves from its disk; an offline cache serves a host with the hub
unreachable; the hosts' token is nowhere on the cache host.

Runs after tests/deploy/ on the same fleet (fleet_deployment): every host already serves.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from deploy.sandbox_harness import MODEL, Deployment, chat, ssh_host
from vllm_fleet.deploy.facts import COMPLETE_DIR, repo_folder
from vllm_fleet.hostdata import HostSettings
from vllm_fleet.hubcache.spec import SERVICE_USER
from vllm_fleet.local import sandbox
from vllm_fleet.local.hub.container import HUB_CONTAINER, HUB_URL, HubContainer

pytestmark = pytest.mark.slow
CACHE_HOST = sandbox.SandboxHost(sandbox.HUB_CACHE_HOST_INDEX)
HF_HOME = "/var/lib/vllm-fleet/huggingface"
REPO = f"{HF_HOME}/hub/{repo_folder(MODEL.repo_id)}"
RECORDS = f"{HF_HOME}/{COMPLETE_DIR}/{repo_folder(MODEL.repo_id)}"
CACHE_UNIT = f"{HostSettings().hub_cache_unit_name}.service"


@pytest.fixture(scope="module")
def fleet(fleet_deployment: Deployment) -> Deployment:
    result = fleet_deployment.run()
    assert result.returncode == 0, result.stdout[-4000:]
    return fleet_deployment


def deploy_host(fleet: Deployment, index: int, *extra: str) -> subprocess.CompletedProcess:
    result = fleet.run("--limit", sandbox.SandboxHost(index).name, *extra)
    assert result.returncode == 0, result.stdout[-4000:]
    return result


def downloaded(result: subprocess.CompletedProcess) -> bool:
    return f"Model weights | Download {MODEL.repo_id}@" in result.stdout


def test_a_cut_off_download_resumes_from_the_cache_and_serves(
    fleet: Deployment, local_hub: HubContainer
) -> None:
    """Host 3's largest file cut off halfway, as huggingface_hub leaves one (an ``.incomplete``
    temporary blob, no snapshot link, no completion record). The next run fetches that file
    again, from the cache, and leaves no partial file behind."""
    host = ssh_host(sandbox.SandboxHost(3))
    before = local_hub.stats()["bytes_served"]
    blob = host.check_output(f"ls -S {REPO}/blobs | head -1")
    host.check_output(
        f"cd {REPO} && size=$(stat -c %s blobs/{blob}) && "
        f"head -c $((size / 2)) blobs/{blob} > blobs/{blob}.1a2b3c4d.incomplete && "
        f"rm blobs/{blob} && "
        f"find snapshots -lname '*{blob}' -delete && rm -rf {RECORDS}"
    )
    result = deploy_host(fleet, 3)
    assert "is incomplete" in result.stdout and downloaded(result), result.stdout[-3000:]
    assert host.check_output(f"ls {REPO}/blobs | grep -c incomplete || true") == "0"
    assert host.run(f"test -s {REPO}/blobs/{blob}").rc == 0
    assert chat(fleet.api_key, sandbox.SandboxHost(3).url).status_code == 200
    assert local_hub.stats()["bytes_served"] == before  # from the cache's disk


def test_a_restarted_cache_serves_the_next_host_from_its_disk(
    fleet: Deployment, local_hub: HubContainer
) -> None:
    cache, host = ssh_host(CACHE_HOST), ssh_host(sandbox.SandboxHost(2))
    before = local_hub.stats()["bytes_served"]
    cache.check_output(f"systemctl restart {CACHE_UNIT}")
    host.check_output(f"rm -rf {REPO} {RECORDS}")
    result = deploy_host(fleet, 2)
    assert downloaded(result), result.stdout[-3000:]
    assert chat(fleet.api_key, sandbox.SandboxHost(2).url).status_code == 200
    assert local_hub.stats()["bytes_served"] == before


@contextmanager
def hub_unreachable_from(*hosts: sandbox.SandboxHost) -> Iterator[None]:
    """The local hub unreachable from ``hosts``, as a Hub is from an air-gapped site: an
    ``unreachable`` route to its address, so a connection fails at once. The hub itself keeps
    running: the controller's inventory checks it, and its byte counter shows what reached it."""
    shells = [ssh_host(host) for host in hosts]
    address = shells[0].check_output(f"getent hosts {HUB_CONTAINER} | awk '{{print $1}}'")
    route = f"ip route %s unreachable {address}/32"
    for shell in shells:
        shell.check_output(route % "add")
    try:
        assert shells[0].run(f"curl -sf --max-time 5 {HUB_URL}/_stats").rc != 0
        yield
    finally:
        for shell in shells:
            shell.run(route % "del")


def test_an_offline_cache_serves_a_host_with_the_hub_unreachable(
    fleet: Deployment, local_hub: HubContainer
) -> None:
    host = ssh_host(sandbox.SandboxHost(2))
    host.check_output(f"rm -rf {REPO} {RECORDS}")
    before = local_hub.stats()["bytes_served"]
    limits = ["--limit", CACHE_HOST.name, "--limit", sandbox.SandboxHost(2).name]
    with hub_unreachable_from(CACHE_HOST, sandbox.SandboxHost(2)):
        offline = fleet.run(*limits, "--data", "hub_cache_offline=true")
    served_offline = local_hub.stats()["bytes_served"] - before
    online = fleet.run("--limit", CACHE_HOST.name)
    assert offline.returncode == 0, offline.stdout[-4000:]
    assert downloaded(offline), offline.stdout[-3000:]
    assert served_offline == 0  # every byte came from the cache's disk
    assert chat(fleet.api_key, sandbox.SandboxHost(2).url).status_code == 200
    assert online.returncode == 0, online.stdout[-4000:]


def test_the_cache_host_holds_no_token(fleet: Deployment) -> None:
    """The hosts' download requests carry their token through olah to the hub; nothing of it
    may stay on the cache host: its files (any mode), its process, its journal, its unit."""
    cache = ssh_host(CACHE_HOST)
    settings = HostSettings()
    pid = cache.check_output(f"systemctl show -p MainPID --value {CACHE_UNIT}")
    places = {
        "cache folder": cache.run(
            f"grep -rlF {fleet.hf_token} {sandbox.HUB_CACHE_DIR} {settings.hub_cache_venv_dir}"
        ).stdout,
        "process environment": cache.check_output(f"tr '\\0' '\\n' < /proc/{pid}/environ"),
        "command line": cache.check_output(f"tr '\\0' ' ' < /proc/{pid}/cmdline"),
        "journal": cache.check_output(f"journalctl --no-pager -o cat -u {CACHE_UNIT}"),
        "unit": cache.check_output(f"systemctl cat {CACHE_UNIT}"),
    }
    for place, text in places.items():
        assert fleet.hf_token not in text, f"token found in the cache's {place}"
    assert cache.check_output(f"stat -c %U {sandbox.HUB_CACHE_DIR}") == SERVICE_USER
    # The hosts do send it: each keeps it in its root-only file (else this proves nothing).
    assert fleet.hf_token in ssh_host(sandbox.SandboxHost(2)).check_output(
        "cat /etc/vllm-fleet/hf-token"
    )
