"""`pyinfra ... deploy/router.py` through pyinfra's real CLI against ``@fake`` hosts (see
tests/deploy/plan_harness.py): the exact commands a router host gets, the serving hosts left
alone, and bad router input stopping the run before any operation."""

from __future__ import annotations

import os
import pprint
import secrets
import subprocess
import sys
from pathlib import Path

from deploy.plan_harness import OS_RELEASES, operations
from vllm_fleet.paths import INVENTORY_DIR, REPO_ROOT

BIN = Path(sys.executable).parent


def inventory(folder: Path, router_data: dict) -> Path:
    """One serving host and one CPU router host, both @fake Debian 12."""
    common = {
        "fake_delay": 0,
        "fake_delay_jitter": 0,
        "fake_responses": {
            "ls -pdL *-release": OS_RELEASES["debian-12"],
            "uname -s": "Linux",
            "command -v useradd": "/usr/sbin/useradd",
        },
    }
    serving = {
        **common,
        "gpu_vendor": "none",
        "gpu_count": 0,
        "model": "kimi-tiny",
        "profile": "cpu",
        "image_target": "cpu",
        "worker_url": "http://gpu-01.internal:8000",
    }
    path = folder / "fleet.py"
    path.write_text(
        f"serving = [('@fake/gpu-01', {pprint.pformat(serving)})]\n"
        f"routers = [('@fake/router-01', {pprint.pformat({**common, **router_data})})]"
        "\n"
    )
    return path


def run(path: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environment = {
        **os.environ,
        "PYINFRA_FAKE_DELAY": "0",
        "PYINFRA_FAKE_DELAY_JITTER": "0",
        **(env or {}),
    }
    environment.pop("VLLM_API_KEY", None) if not env else None
    return subprocess.run(
        [
            str(BIN / "pyinfra"),
            str(path),
            "deploy/router.py",
            "--group-data",
            str(INVENTORY_DIR / "group_data" / "routers.py").rsplit("/", 1)[0],
            "-y",
            "-vvv",
        ],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_router_host_gets_pinned_router_checked_haproxy_and_units(tmp_path: Path) -> None:
    key = f"sk-canary{secrets.token_hex(8)}"
    # No router answers a fake host: the wait at the end fails after its (shortened) timeout.
    result = run(inventory(tmp_path, {"router_ready_timeout_s": 1}), {"VLLM_API_KEY": key})
    output = result.stdout + result.stderr
    ops = operations(output)
    names = [name.removeprefix("vLLM router | ").strip() for name in ops]
    commands = "\n".join(c for cs in ops.values() for c in cs)
    assert "vllm-router==0.1.17" in commands
    assert "haproxy -c -q -f /etc/haproxy/haproxy.cfg.vllm-fleet-candidate" in commands
    # the candidate is checked before the live configuration is written
    check = names.index("Check the candidate with haproxy -c")
    live = names.index("HAProxy configuration /etc/haproxy/haproxy.cfg")
    assert check < live
    assert names.index("Start vllm-router.service") > names.index(
        "Unit /etc/systemd/system/vllm-router.service"
    )
    assert any("vllm-router-workers.service" in name for name in names)
    # The key travels only as a file's content: never a command, an operation name or output.
    assert key not in output
    assert "http://@fake/router-01:8080/health did not answer within 1 s" in output
    assert "API key -> /etc/vllm-fleet/router-api-keys" in names
    # The serving host is left alone by this deploy.
    assert "[@fake/gpu-01] runs no router" in output or "@fake/gpu-01" not in "".join(
        line for line in output.splitlines() if "Starting operation" in line
    )


def test_bad_router_input_stops_before_any_operation(tmp_path: Path) -> None:
    result = run(inventory(tmp_path, {"router_pool": "nvidia_h100"}))
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "router_pool: unknown group 'nvidia_h100'" in output
    assert "--> Beginning operation run" not in output
