"""Run deploy/serve.py through pyinfra's real CLI against ``@fake`` hosts and collect, per
operation, the exact commands it would run on the host.

The vendors' repositories and GPUs cannot be reached here, so these plans are how the NVIDIA and
AMD paths are tested: the fake connector answers the fact commands from canned outputs (an
``/etc/os-release``, a kernel version, free disk) and records every command of every operation.
"""

from __future__ import annotations

import os
import pprint
import re
import subprocess
import sys
from pathlib import Path

from vllm_fleet.paths import INVENTORY_DIR, REPO_ROOT

BIN = Path(sys.executable).parent
MANIFESTS = Path(__file__).parents[1] / "fixtures" / "manifests"
RECORDED_CPU_MANIFEST = MANIFESTS / "cpu-0.32.0.json"

OS_RELEASES = {
    "ubuntu-22.04": [
        "/etc/os-release",
        'NAME="Ubuntu"',
        'VERSION_ID="22.04"',
        "VERSION_CODENAME=jammy",
        "ID=ubuntu",
        "ID_LIKE=debian",
        "---",
    ],
    "ubuntu-24.04": [
        "/etc/os-release",
        'NAME="Ubuntu"',
        'VERSION_ID="24.04"',
        "VERSION_CODENAME=noble",
        "ID=ubuntu",
        "ID_LIKE=debian",
        "---",
    ],
    "debian-12": [
        "/etc/os-release",
        'NAME="Debian GNU/Linux"',
        'VERSION_ID="12"',
        "VERSION_CODENAME=bookworm",
        "ID=debian",
        "---",
    ],
}
# Every plan host's vLLM unit "fails" once started (there is no GPU behind it), so the ready gate
# ends each plan by showing the journal: the failure path of the gate is part of every plan.
BASE_RESPONSES = {
    "uname -r": "6.8.0-45-generic",
    "df -P -B1": "2000000000000",
    "systemctl show --property=ActiveState": [
        "ActiveState=failed",
        "NRestarts=0",
        "Result=exit-code",
        "LoadState=loaded",
    ],
    "getent group": ["video:x:44:", "render:x:993:"],
    "apt-mark showhold": [],
    "cat /proc/cmdline": "BOOT_IMAGE=/vmlinuz-6.8.0-45-generic root=/dev/sda1 ro",
    # A healthy HGX H200 as the GPU admission gate reads it (vllm_fleet.deploy.gpufacts).
    "nvidia-smi --query-gpu": [f"{i}, GPU-{i:08d}, Enabled, 0, [N/A], No, No" for i in range(8)],
    "nvidia-smi -q": [
        line
        for _ in range(8)
        for line in (
            "    Fabric",
            "        State                             : Completed",
            "        Status                            : Success",
        )
    ],
    "NVRM: Xid": [],
    "journalctl -u": [
        "INFO GPU KV cache size: 715,072 tokens",
        "ERROR CUDA error 802: system not yet initialized",
    ],
}
_COMMAND = re.compile(r"^\[@fake/[^\]]+\] +>>> (.*)$")  # pyinfra pads short host names


def write_inventory(
    folder: Path, group: str, host: str | list[str], distro: str, data: dict, responses: dict
) -> Path:
    """An inventory of ``host`` (or several) in ``group`` (whose group_data applies), each with
    the same canned facts."""
    host_data = {
        "fake_delay": 0,
        "fake_delay_jitter": 0,
        "image_manifest_dir": str(_manifest_dir(folder)),
        "fake_responses": {"ls -pdL *-release": OS_RELEASES[distro], **BASE_RESPONSES, **responses},
        **data,
    }
    names = [host] if isinstance(host, str) else host
    entries = ", ".join(f"({f'@fake/{name}'!r}, {pprint.pformat(host_data)})" for name in names)
    path = folder / "fleet.py"
    path.write_text(f"{group} = [{entries}]\n")
    return path


def _manifest_dir(folder: Path) -> Path:
    target = folder / "manifests"
    target.mkdir(exist_ok=True)
    (target / "cpu.json").write_text(RECORDED_CPU_MANIFEST.read_text())
    return target


def run_deploy(
    inventory: Path, deploy: str = "deploy/serve.py", *extra: str
) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYINFRA_FAKE_DELAY": "0", "PYINFRA_FAKE_DELAY_JITTER": "0"}
    for secret in ("HF_TOKEN", "VLLM_API_KEY"):
        env.pop(secret, None)
    return subprocess.run(
        [
            str(BIN / "pyinfra"),
            str(inventory),
            deploy,
            "--group-data",
            str(INVENTORY_DIR / "group_data"),
            "-y",
            "-vv",
            *extra,
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def operations(output: str) -> dict[str, list[str]]:
    """Operation name -> the commands it ran (fact-gathering commands left out)."""
    ops: dict[str, list[str]] = {}
    current = None
    pending: list[str] = []
    lines = output.split("--> Beginning operation run...", 1)[-1].splitlines()
    for line in lines:
        if line.startswith("--> Starting operation: "):
            current = line.removeprefix("--> Starting operation: ").strip()
            ops[current] = []
            pending = []
        elif current is None:
            continue
        elif match := _COMMAND.match(line):
            ops[current].extend(pending)
            pending = [match.group(1)]
        elif "Loaded fact" in line:
            pending = []  # the command just before was a fact's
        elif pending and not line.startswith(("    [", "--> ", "[")):
            pending[-1] += "\n" + line  # a multi-line command
        elif pending:
            ops[current].extend(pending)
            pending = []
    if current is not None:
        ops[current].extend(pending)
    return ops
