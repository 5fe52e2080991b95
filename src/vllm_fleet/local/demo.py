"""The embedded default: the whole pipeline on one machine without a GPU.

build (local base image, the `cpu` image) -> tiny Kimi-format model -> sandbox host (with its
registry and local hub) -> push the image to the sandbox registry -> publish the model on the hub
-> `invoke rollout --inventory inventory/sandbox.py` (`pyinfra inventory/sandbox.py
deploy/serve.py`, host by host once hosts serve; the hosts pull by digest) -> smoke. The same
templates, deploy files, unit and smoke suite as a GPU fleet; only the GPU is swapped for vLLM's
CPU backend and the servers for local systemd containers. Each stage reuses what is still valid,
so a second run is quick.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from vllm_fleet.errors import FleetError
from vllm_fleet.hostdata import settings_for
from vllm_fleet.images.build import build_image
from vllm_fleet.images.manifest import record_manifest
from vllm_fleet.images.matrix import Matrix
from vllm_fleet.images.push import push_target
from vllm_fleet.images.site import site_build_options
from vllm_fleet.local import sandbox
from vllm_fleet.local.hub.container import HUB_LOCAL_PORT, HUB_REPOS, ensure_hub, publish
from vllm_fleet.local.localbase import ensure_local_base
from vllm_fleet.local.sandbox import registry
from vllm_fleet.local.tinymodel.build import build_tiny_model
from vllm_fleet.paths import INVENTORY_DIR, REPO_ROOT
from vllm_fleet.progress import Progress
from vllm_fleet.rollout.rollout import Rollout
from vllm_fleet.serving.inventory import load_inventory
from vllm_fleet.serving.plan import Planner
from vllm_fleet.serving.secretnames import read_source, secrets_present
from vllm_fleet.serving.spec import ServeSpec, server_url
from vllm_fleet.smoke.report import SmokeReport
from vllm_fleet.smoke.runner import run_smoke

SANDBOX_INVENTORY = INVENTORY_DIR / "sandbox.py"
TINY_MODEL_DIR = sandbox.TINY_MODEL_DIR
Log = Callable[[str], None]


@dataclass
class DemoResult:
    url: str
    model: str
    image: str
    unit: str
    stages: dict[str, float] = field(default_factory=dict)
    smoke: SmokeReport | None = None

    @property
    def seconds(self) -> float:
        return sum(self.stages.values())

    def summary(self) -> list[str]:
        """What ran, where the endpoint is, each stage's time and share, how to tear down."""
        lines = [
            f"vllm-fleet demo: {self.model} at {self.url} ({self.seconds:.0f} s)",
            f"  {'stage':14} {'seconds':>8} {'share':>6}",
        ]
        lines += [
            f"  {name:14} {seconds:8.1f} {100 * seconds / self.seconds:5.0f}%"
            for name, seconds in self.stages.items()
        ]
        lines += [
            f"image {self.image}, unit {self.unit} on the sandbox hosts",
            f"try: invoke smoke --url {self.url} --model {self.model}",
            "tear down: invoke sandbox.down",
        ]
        return lines


def run_demo(log: Log = print, progress: Progress | None = None) -> DemoResult:
    """Run every stage; raise FleetError naming the stage that failed. ``progress`` shows the
    running stage, the image build's steps and the deploy's operations as they happen."""
    stages: dict[str, float] = {}
    progress = progress or Progress()

    @contextmanager
    def stage(name: str) -> Iterator[None]:
        log(f"==> {name}")
        progress.section(name)
        started = time.monotonic()
        try:
            yield
        except FleetError as err:
            raise FleetError(f"demo stage '{name}' failed: {err}") from err
        stages[name] = time.monotonic() - started

    with stage("cpu image"):
        image = build_cpu_image(log, progress)
    with stage("tiny model"):
        build_tiny_model(image, TINY_MODEL_DIR)
    with stage("sandbox host"):
        # Keep every host already up (`invoke sandbox.up --hosts N`); the deploy serves them all.
        sandbox.up(max(1, len(sandbox.hosts_up())), log=log)
    with stage("push"):
        push_target("cpu", registry.LOCAL_ADDRESS, log=lambda _line: None)
        log(f"pushed {image} to {registry.LOCAL_ADDRESS}")
    host = load_inventory(SANDBOX_INVENTORY)[0]
    spec = Planner(env_names=secrets_present()).spec(host)  # what the deploy will configure
    log(f"the hosts pull {spec.image}")
    with stage("local hub"):
        publish_to_hub(TINY_MODEL_DIR, spec.weights.repo_id)
        ensure_hub(HUB_REPOS, HUB_LOCAL_PORT, log=log)
    with stage("deploy"):
        deploy(log)
    url = server_url(spec, settings_for(host).vllm_url)
    with stage("smoke"):
        report = run_smoke(url, spec.served_model_name, api_key=_configured_key(spec))
    result = DemoResult(
        url=url,
        model=spec.served_model_name,
        image=spec.image or image,
        unit=spec.unit.path,
        stages=stages,
        smoke=report,
    )
    if not report.passed:
        raise FleetError(f"demo stage 'smoke' failed: {', '.join(c.name for c in report.failed)}")
    return result


def _configured_key(spec: ServeSpec) -> str | None:
    """The API key the deploy gave the server (same source, same rule), so smoke sends it."""
    key = next((c for c in spec.credentials if c.name == "vllm_api_key"), None)
    return read_source(key.source) if key else None


def build_cpu_image(log: Log, progress: Progress | None = None) -> str:
    """The `cpu` image on the local base, with this machine's CA bundle and wheels; its
    manifest goes to build/images/cpu.json, where the sandbox host's plan finds it."""
    base = ensure_local_base(log=log)
    target = Matrix().target("cpu").with_overrides(base_image=base)
    result = build_image(target, site_build_options(), log=lambda _line: None, progress=progress)
    record_manifest(
        target.name,
        result.image_id,
        result.tags,
        target.vllm_version,
        target.install_mode,
        target.base_image,
    )
    log(f"{result.tags[0]} ({result.cached_steps}/{result.steps} steps from cache)")
    return result.tags[0]


def publish_to_hub(model_dir: Path, repo_id: str) -> Path:
    """Lay the model out as the hub serves it (build/hub/<org>/<name>), replacing older files."""
    return publish(model_dir, repo_id, HUB_REPOS)


def deploy(log: Log) -> None:
    """The operator's command for a fleet: every host at once while none serves yet, host by
    host through the router once a change would restart serving hosts."""
    inventory = SANDBOX_INVENTORY.relative_to(REPO_ROOT)
    log(f"$ invoke rollout --inventory {inventory}")
    Rollout(inventory, log=log).roll_out()  # each operation as it runs
