"""Operation plans for NVIDIA and AMD hosts on Ubuntu 22.04 and 24.04 (stand-ins for hardware).

No GPU, vendor repository or Ubuntu host can be reached here, so each case in plans/*.json runs
the real deploy/serve.py through pyinfra's CLI against a ``@fake`` host whose facts are canned,
and the exact commands of every operation are compared with the reviewed golden file beside it
(plans/<case>.ops.json; regenerate with UPDATE_GOLDEN=1 and review the diff). Cases that must
stop say with which one line, and must stop before any operation ran.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from .plan_harness import operations, run_deploy, write_inventory

PLANS = Path(__file__).parent / "plans"
CASES = sorted(p.stem for p in PLANS.glob("*.json") if not p.stem.endswith(".ops"))
GATE_FAILURE = (
    "vllm-serve.service stopped while loading (ActiveState=failed, NRestarts=0, "
    "Result=exit-code); last journal lines:"
)


@pytest.mark.parametrize("case", CASES)
def test_deploy_plan(case: str, tmp_path: Path) -> None:
    spec = json.loads((PLANS / f"{case}.json").read_text())
    inventory = write_inventory(
        tmp_path,
        spec["group"],
        spec["host"],
        spec["distro"],
        spec.get("data", {}),
        spec.get("responses", {}),
    )
    result = run_deploy(inventory)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    if "expect_error" in spec:
        assert re.search(rf"--> pyinfra error.*: {spec['expect_error']}$", output, re.MULTILINE), (
            output[-3000:]
        )
        assert "--> Beginning operation run" not in output, "stopped only after changing things"
        return
    ops = operations(output)
    golden = PLANS / f"{case}.ops.json"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(json.dumps(ops, indent=1) + "\n")
    assert ops == json.loads(golden.read_text())
    # Every plan ends at the ready gate, which shows why the (GPU-less) server did not come up.
    assert GATE_FAILURE in output
    assert "ERROR CUDA error 802: system not yet initialized" in output


def test_a_host_that_serves_no_model_is_left_alone(tmp_path: Path) -> None:
    """A router, cache or monitoring host (no `model`) gets no driver, engine or unit."""
    inventory = write_inventory(tmp_path, "routers", "router-01", "ubuntu-24.04", {}, {})
    result = run_deploy(inventory)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "serves no model (no `model` in its host data)" in output
    assert operations(output) == {}


# A venv host on the second deploy: the venv and the weights are in place (the fake connector
# answers the venv check and the HubSnapshot fact), so only the data folders' owner is in question.
VENV_REDEPLOY = {
    "uname -s": "Linux",
    "command -v useradd": "/usr/sbin/useradd",
    "id -u vllm": "999",
    "bin/vllm && echo yes": "yes",
    'echo "commit $r"': ["commit 612681931a8c906ddb349f8ad0f582cb552189cd", "checked"],
}
CHOWN = "chown -R vllm:vllm /var/lib/vllm-fleet/huggingface /var/lib/vllm-fleet/vllm-cache"


def _venv_redeploy(
    tmp_path: Path, foreign: list[str], account: bool = True
) -> tuple[dict[str, list[str]], str]:
    responses = {**VENV_REDEPLOY, "! -user vllm": foreign}
    if not account:
        del responses["id -u vllm"]
    inventory = write_inventory(
        tmp_path, "nvidia_h200", "h200-01", "ubuntu-24.04", {"runtime": "venv"}, responses
    )
    result = run_deploy(inventory)
    output = result.stdout + result.stderr
    return operations(output), output


def test_venv_redeploy_gives_back_a_file_another_account_wrote(tmp_path: Path) -> None:
    """The one foreign file the check found is named, so a redeploy that keeps changing says
    which file some other process keeps writing."""
    ops, output = _venv_redeploy(tmp_path, ["root:root /var/lib/vllm-fleet/vllm-cache/x.json"])
    name = (
        "Model weights | /var/lib/vllm-fleet/huggingface, /var/lib/vllm-fleet/vllm-cache "
        "owned by vllm"
    )
    assert ops[name] == [CHOWN], output[-3000:]
    assert "not vllm's: root:root /var/lib/vllm-fleet/vllm-cache/x.json" in output
    assert not any("Download" in op for op in ops)


def test_venv_redeploy_leaves_folders_the_account_owns(tmp_path: Path) -> None:
    ops, output = _venv_redeploy(tmp_path, [])
    assert not any(CHOWN in command for commands in ops.values() for command in commands), ops
    assert "not vllm's" not in output


def test_a_new_account_gets_the_folders_an_earlier_runtime_filled(tmp_path: Path) -> None:
    """A container host moving to the venv runtime: weights complete, the account not there yet
    when facts are read (it is created later in the run). `find ! -user vllm` cannot answer for
    an unknown account, so the deploy does not ask it and gives the folders to the new account
    in this run, not in the next one (which was then not a no-op)."""
    ops, output = _venv_redeploy(tmp_path, [], account=False)
    assert any(commands == [CHOWN] for commands in ops.values()), ops
    assert "not vllm's: (account vllm created in this run)" in output
    assert "! -user vllm" not in output  # not asked while the account does not exist
