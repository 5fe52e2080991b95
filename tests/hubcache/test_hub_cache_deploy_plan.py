"""`pyinfra ... deploy/hub_cache.py` and `deploy/weights.py` through pyinfra's real CLI against
``@fake`` hosts (see tests/deploy/plan_harness.py): the exact commands the cache host gets, the
serving host downloading through the cache, and a cache disk too small stopping the run before
any operation."""

from __future__ import annotations

import pprint
import re
from pathlib import Path

from deploy.plan_harness import MANIFESTS, OS_RELEASES, operations, run_deploy

CACHE_URL = "http://cache-01.internal:8090"


def inventory(folder: Path, cache_free_bytes: int = 2 * 10**12) -> Path:
    """One CPU serving host and one cache host, both @fake Debian 12."""
    common = {
        "fake_delay": 0,
        "fake_delay_jitter": 0,
        "fake_responses": {
            "ls -pdL *-release": OS_RELEASES["debian-12"],
            "uname -s": "Linux",
            "command -v useradd": "/usr/sbin/useradd",
            "df -P -B1": str(cache_free_bytes),
        },
    }
    serving = {
        **common,
        "gpu_vendor": "none",
        "gpu_count": 0,
        "model": "kimi-tiny",
        "profile": "cpu",
        "image_target": "cpu",
        "image_manifest_dir": str(MANIFESTS),
        "runtime": "venv",
    }
    cache = {**common, "hub_cache_dir": "/data/hub-cache", "hub_cache_url": CACHE_URL}
    path = folder / "fleet.py"
    path.write_text(
        f"serving = [('@fake/gpu-01', {pprint.pformat(serving)})]\n"
        f"hub_cache = [('@fake/cache-01', {pprint.pformat(cache)})]\n"
    )
    return path


def test_cache_host_gets_pinned_olah_unprivileged_and_waits_for_it(tmp_path: Path) -> None:
    result = run_deploy(inventory(tmp_path), "deploy/hub_cache.py")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    ops = {
        name.removeprefix("Hub cache | ").strip(): cmds for name, cmds in operations(output).items()
    }
    commands = "\n".join(c for cs in ops.values() for c in cs)
    assert re.search(r"apt-get .* install python3-venv git$", commands, re.MULTILINE), commands
    assert "/opt/vllm-fleet/hub-cache/bin/pip install olah==0.5.4" in commands
    useradd = "useradd -d /data/hub-cache -s /usr/sbin/nologin -g vllm-hub-cache -r -M"
    assert f"{useradd} vllm-hub-cache" in commands
    assert "python3 -m venv /opt/vllm-fleet/hub-cache" in commands
    assert "/home/vllm-hub-cache" not in commands
    assert "chown vllm-hub-cache:vllm-hub-cache /data/hub-cache" in commands
    assert "chmod 750 /data/hub-cache" in commands
    names = list(ops)
    # olah starts only once its package, configuration and unit are in place.
    assert names.index("Start vllm-hub-cache.service") > max(
        names.index("olah==0.5.4"),
        names.index("olah configuration /opt/vllm-fleet/hub-cache/etc/olah.toml"),
        names.index("Unit /etc/systemd/system/vllm-hub-cache.service"),
    )
    assert names[-1] == "Wait for the cache on port 8090"
    assert "@fake/gpu-01" not in "".join(ops)  # the serving host gets nothing from this deploy


def test_serving_host_downloads_through_the_cache(tmp_path: Path) -> None:
    result = run_deploy(inventory(tmp_path), "deploy/weights.py")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    (download,) = [
        cmds for name, cmds in operations(output).items() if "Download vllm-fleet/kimi-tiny" in name
    ]
    assert download[0].startswith(f"HF_ENDPOINT={CACHE_URL} HF_HUB_DISABLE_TELEMETRY=1 ")


def test_a_cache_disk_too_small_stops_before_any_operation(tmp_path: Path) -> None:
    result = run_deploy(inventory(tmp_path, cache_free_bytes=10**6), "deploy/hub_cache.py")
    output = result.stdout + result.stderr
    assert result.returncode == 1
    assert re.search(
        r"--> pyinfra error.*@fake/cache-01: hub_cache_dir /data/hub-cache: not enough disk for "
        r"the cache of vllm-fleet/kimi-tiny@main: needs 0\.\d GB, 0\.0 GB free or already cached$",
        output,
        re.MULTILINE,
    ), output[-3000:]
    assert "--> Beginning operation run" not in output
