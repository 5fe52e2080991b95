"""Rolling changes for real, on the sandbox fleet: three serving hosts behind the router on host
1, images from the sandbox registry, `invoke rollout` and `invoke rollback` run as an operator
runs them. A bounded client load (2 streaming chats a second, each judged complete) runs through
the router during every change, and a watcher polls each host's /health to see which are down.

The tests run in order and build on each other: a serve flag, then a new image B, then an image C
that fails at start (host 1 rolls back to B, the others are never touched), then a rollback of
every host to what it ran before B. The next module's served_fleet deploys the fleet back.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from deploy.sandbox_harness import MODEL, Deployment, invocation, ssh_host
from vllm_fleet.hostdata import HostSettings
from vllm_fleet.local import sandbox, variants
from vllm_fleet.paths import REPO_ROOT
from vllm_fleet.rollout.state import StatePaths
from vllm_fleet.smoke.load import ChatLoad

pytestmark = pytest.mark.slow
INVOKE = Path(sys.executable).parent / "invoke"
RECORD = StatePaths(HostSettings().state_dir).record
FLAG = 'serve_flags={"max-num-seqs": 8}'


@dataclass
class Fleet:
    deployment: Deployment
    hosts: list[sandbox.SandboxHost]
    first_image: str  # what every host ran when the module began
    variants: dict[str, str] = field(default_factory=dict)

    def invoke(self, task: str, *data: str) -> subprocess.CompletedProcess:
        """`invoke TASK --inventory inventory/sandbox.py --data ...`, as an operator types it,
        with the test run's image manifests and the fleet's secrets."""
        manifests = f"image_manifest_dir={self.deployment.manifest_dir}"
        options = [arg for option in (manifests, *data) for arg in ("--data", option)]
        return subprocess.run(
            [str(INVOKE), task, "--inventory", "inventory/sandbox.py", *options],
            cwd=REPO_ROOT,
            env=self.deployment.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=1800,
        )

    def images(self) -> list[str]:
        """Each host's recorded current image, from its own state.json."""
        return [variants.recorded_image(h) for h in self.hosts]


def healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


class HealthWatch:
    """Polls every host's /health twice a second; what was down, and how many at once."""

    def __init__(self, hosts: list[sandbox.SandboxHost]) -> None:
        self.hosts = hosts
        self.outages = {h.name: 0 for h in hosts}  # healthy -> down transitions
        self.most_down_at_once = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> HealthWatch:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        was_up = {h.name: True for h in self.hosts}
        while not self._stop.wait(0.5):
            up = {h.name: healthy(h.url) for h in self.hosts}
            for name, now_up in up.items():
                self.outages[name] += was_up[name] and not now_up
            self.most_down_at_once = max(self.most_down_at_once, list(up.values()).count(False))
            was_up = up


@pytest.fixture(scope="module")
def fleet(served_fleet: Deployment, sandbox_fleet: list[sandbox.SandboxHost]) -> Fleet:
    """The served fleet behind the router, every host in rotation, and the two new images."""
    router = served_fleet.run(
        "--limit", sandbox.SandboxHost(sandbox.ROUTER_HOST_INDEX).name, deploy="deploy/router.py"
    )
    assert router.returncode == 0, router.stdout[-4000:]
    fleet = Fleet(served_fleet, sandbox_fleet, first_image="")
    images = set(fleet.images())
    assert len(images) == 1, images
    fleet.first_image = images.pop()
    fleet.variants = {
        "b": variants.relabelled(fleet.first_image, "rollout-b"),
        "c": variants.failing_at_start(fleet.first_image, "rollout-c"),
    }
    return fleet


@pytest.fixture
def load(fleet: Fleet) -> Iterator[ChatLoad]:
    """Client load through the router for the whole test; no request may fail."""
    with ChatLoad(sandbox.ROUTER_URL, MODEL.served_model_name, fleet.deployment.api_key) as load:
        time.sleep(3)  # a steady state before the change
        yield load
    assert load.outcomes, "the load sent nothing"
    assert not load.failures, f"{len(load.failures)} of {len(load.outcomes)} failed: " + "; ".join(
        str(f.error) for f in load.failures[:3]
    )


def test_a_serve_flag_restarts_each_host_once_one_at_a_time(fleet: Fleet, load: ChatLoad) -> None:
    before = [invocation(ssh_host(h)) for h in fleet.hosts]
    with HealthWatch(fleet.hosts) as watch:
        result = fleet.invoke("rollout", FLAG)
    assert result.returncode == 0, result.stdout[-4000:]
    after = [invocation(ssh_host(h)) for h in fleet.hosts]
    assert all(old != new for old, new in zip(before, after, strict=True)), (before, after)
    assert watch.outages == {h.name: 1 for h in fleet.hosts}, watch.outages
    assert watch.most_down_at_once == 1
    assert "restarted: sandbox-1, sandbox-2, sandbox-3" in result.stdout


def test_a_new_image_reaches_every_host_without_a_failed_request(
    fleet: Fleet, load: ChatLoad
) -> None:
    with HealthWatch(fleet.hosts) as watch:
        result = fleet.invoke("rollout", FLAG, f"image={fleet.variants['b']}")
    assert result.returncode == 0, result.stdout[-4000:]
    assert fleet.images() == [fleet.variants["b"]] * len(fleet.hosts)
    assert watch.most_down_at_once == 1


def test_an_image_failing_at_start_rolls_back_the_first_host_and_stops(
    fleet: Fleet, load: ChatLoad
) -> None:
    untouched = [invocation(ssh_host(h)) for h in fleet.hosts[1:]]
    result = fleet.invoke("rollout", FLAG, f"image={fleet.variants['c']}")
    assert result.returncode != 0
    output = result.stdout
    assert "deploy/serve.py failed on sandbox-1; not reached, untouched: sandbox-2, sandbox-3" in (
        output
    ), output[-4000:]
    assert "ready gate failed at health; rolled back to " + fleet.variants["b"] in output
    assert variants.FAILING_LINE in output  # the journal's lines are in the error
    assert fleet.images() == [fleet.variants["b"]] * len(fleet.hosts)
    assert healthy(fleet.hosts[0].url)
    assert [invocation(ssh_host(h)) for h in fleet.hosts[1:]] == untouched


def test_rollback_returns_every_host_to_its_previous_image(fleet: Fleet, load: ChatLoad) -> None:
    with HealthWatch(fleet.hosts) as watch:
        result = fleet.invoke("rollback", FLAG)
    assert result.returncode == 0, result.stdout[-4000:]
    assert fleet.images() == [fleet.first_image] * len(fleet.hosts)
    assert watch.most_down_at_once == 1
    records = [json.loads(ssh_host(h).file(RECORD).content_string) for h in fleet.hosts]
    assert {r["previous"]["image"] for r in records} == {fleet.variants["b"]}
