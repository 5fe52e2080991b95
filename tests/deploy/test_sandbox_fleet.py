"""A fleet of N=3 sandbox hosts: one `pyinfra inventory/sandbox.py deploy/serve.py` (no --limit)
deploys every host that is up, each pulling the image by digest from the sandbox registry; a
second run changes nothing on any of them; an image the registry does not have fails on its host
with the registry's answer while the running service is left alone.

Runs after test_sandbox_deploy.py on the same sandbox: host 1 is already serving (the deploy
finds nothing to change there), hosts 2 and 3 are fresh.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from vllm_fleet.images.manifest import ImageManifest
from vllm_fleet.local import sandbox
from vllm_fleet.local.hub.container import HubContainer
from vllm_fleet.local.sandbox import registry

from .sandbox_harness import Deployment, chat, invocation, ssh_host, totals

pytestmark = pytest.mark.slow
MISSING = f"{registry.HOST_ADDRESS}/vllm-fleet/cpu@sha256:{'0' * 64}"


@pytest.fixture(scope="module")
def hosts(sandbox_fleet: list[sandbox.SandboxHost]) -> dict[str, object]:
    return {h.name: ssh_host(h) for h in sandbox_fleet}


def test_one_deploy_serves_on_every_host(
    fleet_deployment: Deployment, sandbox_fleet: list[sandbox.SandboxHost]
) -> None:
    assert len(sandbox_fleet) == 3  # N=3: tests/conftest.py FLEET_SIZE
    assert fleet_deployment.first.returncode == 0, fleet_deployment.first.stdout[-4000:]
    for host in sandbox_fleet:
        assert httpx.get(f"{host.url}/health", timeout=10).status_code == 200, host.name
        answer = chat(fleet_deployment.api_key, host.url).json()["choices"][0]["message"]
        assert answer["content"], host.name


def test_the_fleet_fetched_each_file_from_the_hub_once(
    fleet_deployment: Deployment, local_hub: HubContainer, tiny_model_dir: Path
) -> None:
    """Every host downloads through the fleet's hub cache (host 1, docs/hub-cache.md): Hub bytes
    divided by the model's bytes is 1.0 for the fleet, not 1.0 per host."""
    size = sum(
        p.stat().st_size
        for p in tiny_model_dir.iterdir()
        if p.is_file() and not p.name.startswith(".")
    )
    stats = local_hub.stats()
    assert stats["bytes_served"] / size == 1.0, stats["bytes_per_file"]


def test_every_host_runs_the_pushed_digest(
    fleet_deployment: Deployment, hosts, pushed_manifest: ImageManifest
) -> None:
    (pushed,) = [
        d for d in pushed_manifest.repo_digests if d.startswith(f"{registry.LOCAL_ADDRESS}/")
    ]
    wanted = f"{registry.HOST_ADDRESS}/{pushed.split('/', 1)[1]}"
    for name, host in hosts.items():
        running = host.check_output("docker inspect --format '{{.Config.Image}}' vllm-serve")
        assert running == wanted, name
        digests = host.check_output(
            f"docker image inspect --format '{{{{.RepoDigests}}}}' {wanted}"
        )
        assert wanted in digests, name


def test_hosts_reach_each_other_and_the_registry_by_name(
    fleet_deployment: Deployment, hosts
) -> None:
    host_1 = hosts["sandbox-1"]
    other = sandbox.SandboxHost(3)
    health = host_1.run(f"curl -fsS http://{other.container}:{other.vllm_port}/health")
    assert health.rc == 0, health.stderr
    catalog = host_1.check_output(
        f"curl -fsS --cacert /etc/docker/certs.d/{registry.HOST_ADDRESS}/ca.crt "
        f"https://{registry.HOST_ADDRESS}/v2/_catalog"
    )
    assert "vllm-fleet/cpu" in catalog


def test_second_run_changes_nothing_on_any_host(fleet_deployment: Deployment, hosts) -> None:
    before = {name: invocation(host) for name, host in hosts.items()}
    started = time.monotonic()
    second = fleet_deployment.run()
    every_host = time.monotonic() - started
    assert second.returncode == 0, second.stdout[-3000:]
    assert totals(second)[:2] == ("-", "-"), second.stdout[-3000:]
    assert {name: invocation(host) for name, host in hosts.items()} == before
    started = time.monotonic()
    one = fleet_deployment.run("--limit", "sandbox-1")
    one_host = time.monotonic() - started
    assert totals(one)[:2] == ("-", "-"), one.stdout[-3000:]
    # A figure for the log, not a timed assertion (benchmarks/fleet_timing.py measures 4 / 1).
    print(
        f"no-op redeploy: {len(hosts)} hosts {every_host:.1f} s, 1 host {one_host:.1f} s "
        f"({every_host / one_host:.2f}x)"
    )


def test_an_image_missing_from_the_registry_fails_before_the_service_is_touched(
    fleet_deployment: Deployment, hosts, sandbox_fleet: list[sandbox.SandboxHost]
) -> None:
    host_2 = sandbox_fleet[1]
    before = invocation(hosts[host_2.name])
    unit = hosts[host_2.name].file("/etc/systemd/system/vllm-serve.service").content_string
    refused = fleet_deployment.run("--limit", host_2.name, "--data", f"image={MISSING}")
    assert refused.returncode != 0
    # The registry's own answer, on that host.
    assert "manifest unknown" in refused.stdout, refused.stdout[-3000:]
    assert f"[{host_2.name}]" in refused.stdout
    assert invocation(hosts[host_2.name]) == before
    assert hosts[host_2.name].file("/etc/systemd/system/vllm-serve.service").content_string == unit
    assert httpx.get(f"{host_2.url}/health", timeout=10).status_code == 200


def test_the_inventory_lists_the_hosts_that_are_up(sandbox_fleet) -> None:
    assert [name for name, _ in sandbox.inventory()] == [h.name for h in sandbox_fleet]
