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


# Three H200 hosts whose vLLM unit is active: a changed unit restarts each of them.
SERVING = {"systemctl show --property=ActiveState": ["ActiveState=active", "NRestarts=0"]}
FLEET = ["h200-01", "h200-02", "h200-03"]


def test_a_deploy_that_would_restart_two_hosts_of_a_pool_stops_before_any_change(
    tmp_path: Path,
) -> None:
    """pyinfra restarts every host of a run together; past max_unavailable (1) the deploy
    refuses, naming the hosts, and says what to run instead."""
    inventory = write_inventory(tmp_path, "nvidia_h200", FLEET, "ubuntu-24.04", {}, SERVING)
    output = _stdout_and_stderr(run_deploy(inventory))
    assert re.search(
        r"--> pyinfra error.*: this deploy would restart 2 serving hosts of pool "
        r"'kimi-k2-thinking' at once \(@fake/h200-0\d, @fake/h200-0\d\), and max_unavailable is 1",
        output,
    ), output[-3000:]
    assert f"`invoke rollout --inventory {inventory}`" in output
    assert "--> Beginning operation run" not in output, "stopped only after changing things"


def test_a_deploy_within_the_budget_is_not_refused(tmp_path: Path) -> None:
    """Two restarts with max_unavailable 2: both hosts prepare to the end."""
    inventory = write_inventory(
        tmp_path, "nvidia_h200", FLEET, "ubuntu-24.04", {"max_unavailable": 2}, SERVING
    )
    output = _stdout_and_stderr(
        run_deploy(inventory, "deploy/serve.py", "--limit", "@fake/h200-0[12]", "--dry")
    )
    assert "pyinfra error" not in output, output[-3000:]
    for name in FLEET[:2]:  # both prepared to the end, restart included; --dry runs nothing
        assert re.search(rf"\[@fake/{name}\] +Ready: deploy/serve.py", output), output[-3000:]


def test_a_budget_of_the_whole_pool_is_an_error_naming_where_it_was_set(tmp_path: Path) -> None:
    inventory = write_inventory(tmp_path, "nvidia_h200", FLEET, "ubuntu-24.04", {}, SERVING)
    output = _stdout_and_stderr(
        run_deploy(inventory, "deploy/serve.py", "--data", "max_unavailable=3")
    )
    assert re.search(
        r"--> pyinfra error.*: --data override: max_unavailable: 3 on @fake/h200-01 would take "
        r"every host of pool 'kimi-k2-thinking' \(3 hosts\) out at once; use 1 to 2, or set "
        r"allow_pool_down = true",
        output,
    ), output[-3000:]
    assert "--> Beginning operation run" not in output


def _stdout_and_stderr(result) -> str:
    assert result.returncode in (0, 1)
    return result.stdout + result.stderr
