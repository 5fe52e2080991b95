"""Every command in docs/runbooks/ runs, in order, against the sandbox the demo deploys.

The runbooks are written for a fleet ($INVENTORY, $HOST, $URL, $MODEL, $PROFILE); here those are the
sandbox's values, so each command is the one an operator types, run for real: a runbook that
drifts from the code fails here.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from vllm_fleet.local import sandbox, variants
from vllm_fleet.local.demo import run_demo
from vllm_fleet.paths import REPO_ROOT

pytestmark = pytest.mark.slow
RUNBOOKS = REPO_ROOT / "docs" / "runbooks"
ORDER = [
    "first-deployment",
    "change-profile",
    "rotate-hf-token",
    "replace-failed-host",
    "failed-start",
    "router-hosts",
    "alert-fired",
    "air-gapped-weights",
    "rolling-upgrade",  # last: it leaves the hosts on a new image
]
SANDBOX = {
    "INVENTORY": "inventory/sandbox.py",
    "HOST": "sandbox-1",
    "URL": sandbox.SandboxHost(1).url,
    "MODEL": "kimi-tiny",
    "PROFILE": "cpu",
    "ROUTER": sandbox.SandboxHost(sandbox.ROUTER_HOST_INDEX).name,
    "ROUTER_URL": sandbox.ROUTER_URL,
    "HUB_CACHE": sandbox.SandboxHost(sandbox.HUB_CACHE_HOST_INDEX).name,
    "HUB_CACHE_DIR": sandbox.HUB_CACHE_DIR,
}


def commands(runbook: Path) -> list[str]:
    """The `$ ` lines of the runbook's console blocks, in order."""
    blocks = re.findall(r"```console\n(.*?)```", runbook.read_text(), flags=re.DOTALL)
    return [
        line.strip()[2:]
        for block in blocks
        for line in block.splitlines()
        if line.strip().startswith("$ ")
    ]


@pytest.fixture(scope="module")
def deployed_sandbox(sandbox_fleet: list[sandbox.SandboxHost]) -> dict[str, str]:
    """The session's fleet as an operator's is when these runbooks apply: every host serving
    (the demo's deploy, no API key), the router and the monitoring deployed. The session
    removes it at the end. Returns the release to roll out ($IMAGE): the hosts' image under a
    new digest."""
    run_demo(log=lambda _line: None)
    for deploy_file in ("deploy/router.py", "deploy/monitoring.py"):
        result = sandbox.run_deploy(deploy_file)
        assert result.returncode == 0, f"{deploy_file}:\n{result.stdout[-3000:]}"
    running = variants.recorded_image(sandbox_fleet[0])
    return {"IMAGE": variants.relabelled(running, "runbook-release")}


def test_every_runbook_is_listed_and_has_commands() -> None:
    assert sorted(p.stem for p in RUNBOOKS.glob("*.md") if p.stem != "README") == sorted(ORDER)
    for name in ORDER:
        assert commands(RUNBOOKS / f"{name}.md"), name


@pytest.mark.parametrize("name", ORDER)
def test_runbook_commands_run(name: str, deployed_sandbox: dict[str, str]) -> None:
    env = {
        **os.environ,
        **SANDBOX,
        **deployed_sandbox,
        "HF_TOKEN": f"hf_runbook{secrets.token_hex(6)}",
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    for command in commands(RUNBOOKS / f"{name}.md"):
        proc = subprocess.run(
            ["bash", "-o", "pipefail", "-c", command],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=1200,
        )
        assert proc.returncode == 0, f"{name}: $ {command}\n{proc.stdout[-3000:]}"
