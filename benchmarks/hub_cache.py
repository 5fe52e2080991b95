"""Measure the fleet's hub cache (olah on sandbox host 1, docs/hub-cache.md), for the issue's
closing note:

- Hub bytes divided by the model's bytes, for 1 host and for 3 hosts deploying together, both
  from an empty cache (goal 1.0 for both);
- the download wall time of 3 hosts through the cache (empty and full) against straight from the
  hub, in the same run. "Download" is the weights deploy (`deploy/weights.py`) minus the same
  deploy with nothing to download, so pyinfra's own time is left out.

    .venv/bin/python benchmarks/hub_cache.py [--pad-mb 512]

The tiny model is a few MB, so the transfer would be lost in pyinfra's overhead: --pad-mb adds a
file of that size to the model's revision on the local hub, which every host then downloads
with the rest. It replaces any sandbox that is up (`invoke sandbox.down` first), and removes it
and the padding at the end. Run it under the shared Docker lock: flock /tmp/vllm-fleet-docker.lock
"""

from __future__ import annotations

import argparse
import os
import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sandbox_deploy import clean_sandbox, deploy, limited_to, quiet
from vllm_fleet.hostdata import HostSettings
from vllm_fleet.images.push import push_target
from vllm_fleet.local import sandbox
from vllm_fleet.local.hub.container import HUB_REPOS, ensure_hub
from vllm_fleet.local.sandbox import registry
from vllm_fleet.paths import BUILD_DIR, INVENTORY_DIR
from vllm_fleet.serving.models import load_model

MODEL = load_model(sandbox.MODEL)
PADDING = HUB_REPOS / MODEL.repo_id / "padding.bin"
HOSTS = ("sandbox-1", "sandbox-2", "sandbox-3")
# Where the hosts keep the weights (the serve spec's HF cache on the data disk).
HF_CACHE = "/var/lib/vllm-fleet/huggingface"
# The sandbox inventory without its hub_cache group: every host downloads from the hub itself.
DIRECT_INVENTORY = BUILD_DIR / "bench" / "sandbox-direct.py"


def on_hosts(command: str, *hosts: str) -> None:
    """``command`` as root on ``hosts``, through pyinfra's connector like any deploy."""
    proc = sandbox.run_deploy("exec", *limited_to(*hosts), "--", "sh", "-c", shlex.quote(command))
    if proc.returncode != 0:
        raise SystemExit(f"{command} on {', '.join(hosts)} failed:\n{proc.stdout[-3000:]}")


def drop_weights(*hosts: str) -> None:
    on_hosts(f"rm -rf {HF_CACHE}/hub {HF_CACHE}/vllm-fleet-complete", *hosts)


def empty_the_cache() -> None:
    s = HostSettings()
    unit = f"{s.hub_cache_unit_name}.service"
    on_hosts(
        f"systemctl stop {unit} && rm -rf {sandbox.HUB_CACHE_DIR}/repos && "
        f"systemctl start {unit} && "
        f"until curl -s -o /dev/null 127.0.0.1:{s.hub_cache_port}; do sleep 1; done",
        f"sandbox-{sandbox.HUB_CACHE_HOST_INDEX}",
    )


def weights_deploy(*hosts: str, inventory: Path = sandbox.SANDBOX_INVENTORY) -> float:
    """Seconds of `deploy/weights.py` on ``hosts``: through the cache, unless ``inventory`` has
    no hub_cache group."""
    group_data = ["--group-data", str(INVENTORY_DIR / "group_data")]
    return deploy(
        *limited_to(*hosts), *group_data, deploy_file="deploy/weights.py", inventory=inventory
    )


def write_direct_inventory() -> Path:
    DIRECT_INVENTORY.parent.mkdir(parents=True, exist_ok=True)
    DIRECT_INVENTORY.write_text(
        '"""inventory/sandbox.py without its hub_cache group (benchmarks/hub_cache.py)."""\n'
        "from vllm_fleet.local import sandbox as _sandbox\n\n"
        "sandbox = _sandbox.inventory()\n"
    )
    return DIRECT_INVENTORY


@contextmanager
def padded_revision(pad_mb: int) -> Iterator[int]:
    """The model's revision on the local hub with a random file of ``pad_mb`` MiB added; its
    bytes are given. The file is removed when the block ends, failed or not."""
    PADDING.write_bytes(os.urandom(pad_mb << 20))
    try:
        yield sum(p.stat().st_size for p in PADDING.parent.iterdir() if p.is_file())
    finally:
        PADDING.unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pad-mb", type=int, default=512, help="extra file in the revision")
    pad_mb = parser.parse_args().pad_mb
    rows: list[tuple[str, str]] = []
    with clean_sandbox(), padded_revision(pad_mb) as model_bytes:
        sandbox.up(len(HOSTS), log=quiet)
        push_target("cpu", registry.LOCAL_ADDRESS, log=quiet)
        hub = ensure_hub(log=quiet)

        def hub_ratio(action) -> tuple[float, float]:
            before = hub.stats()["bytes_served"]
            seconds = action()
            return (hub.stats()["bytes_served"] - before) / model_bytes, seconds

        ratio, _ = hub_ratio(deploy)
        rows.append(("first deploy, 3 hosts together, empty cache", f"hub bytes {ratio:.2f}x"))
        empty_the_cache()
        drop_weights(HOSTS[0])
        ratio, _ = hub_ratio(lambda: weights_deploy(HOSTS[0]))
        rows.append(("1 host, empty cache", f"hub bytes {ratio:.2f}x"))
        idle = weights_deploy(*HOSTS)  # nothing to download: pyinfra's own time
        empty_the_cache()
        drop_weights(*HOSTS)
        ratio, cold = hub_ratio(lambda: weights_deploy(*HOSTS))
        rows.append(("3 hosts through the empty cache", f"{cold - idle:6.1f} s, hub {ratio:.2f}x"))
        drop_weights(*HOSTS)
        ratio, warm = hub_ratio(lambda: weights_deploy(*HOSTS))
        rows.append(("3 hosts through the full cache", f"{warm - idle:6.1f} s, hub {ratio:.2f}x"))
        direct_inventory = write_direct_inventory()
        drop_weights(*HOSTS)
        ratio, direct = hub_ratio(lambda: weights_deploy(*HOSTS, inventory=direct_inventory))
        rows.append(("3 hosts straight from the hub", f"{direct - idle:6.1f} s, hub {ratio:.2f}x"))
    print(
        f"model revision: {model_bytes / 1e6:.0f} MB ({pad_mb} MiB padding); "
        f"weights deploy with nothing to download: {idle:.1f} s"
    )
    for name, value in rows:
        print(f"{name:46} {value}")


if __name__ == "__main__":
    main()
