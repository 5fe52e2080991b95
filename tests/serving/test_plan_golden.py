"""Golden plans: every host of inventory/prod.py (8x H200 and 8x MI300X, both profiles), one in
the venv runtime, and the CPU sandbox host, compared byte for byte (JSON plan + unit file).

Regenerate after an intended change with `UPDATE_GOLDEN=1 pytest tests/serving/test_plan_golden.py`
and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from vllm_fleet.paths import INVENTORY_DIR, REPO_ROOT
from vllm_fleet.serving.inventory import HostData
from vllm_fleet.serving.plan import HostPlan, Planner, plan_inventory

from .conftest import PUSHED_DIGEST

GOLDEN = Path(__file__).parent / "golden"
# The prod plans as an operator with both secrets configured on the controller sees them.
PROD_SECRETS = ("HF_TOKEN", "VLLM_API_KEY")
PROD_HOSTS = ["h200-01", "h200-02", "mi300x-01", "mi300x-02"]


def _check(name: str, plan: HostPlan) -> None:
    assert plan.error is None, plan.error
    text = json.dumps(plan.to_dict(), indent=2, ensure_ascii=False) + "\n"
    golden_json, golden_unit = GOLDEN / f"{name}.json", GOLDEN / f"{name}.service"
    if os.environ.get("UPDATE_GOLDEN"):
        golden_json.write_text(text)
        golden_unit.write_text(plan.unit_text or "")
    assert text == golden_json.read_text()
    assert plan.unit_text == golden_unit.read_text()


@pytest.fixture(scope="module")
def prod_plans(manifest_dir: Path) -> dict[str, HostPlan]:
    plans = plan_inventory(
        INVENTORY_DIR / "prod.py", manifest_dir=manifest_dir, env_names=PROD_SECRETS
    )
    return {p.host.removesuffix(".example.internal"): p for p in plans}


def test_prod_has_the_hosts_the_goldens_cover(prod_plans: dict[str, HostPlan]) -> None:
    assert sorted(prod_plans) == PROD_HOSTS


@pytest.mark.parametrize("host", PROD_HOSTS)
def test_prod_plan_matches_golden(host: str, prod_plans: dict[str, HostPlan]) -> None:
    _check(f"prod-{host}", prod_plans[host])


def test_profiles_differ_only_by_dcp(prod_plans: dict[str, HostPlan]) -> None:
    latency, throughput = prod_plans["h200-01"].spec, prod_plans["h200-02"].spec
    assert latency and throughput
    dcp = throughput.argv.index("--decode-context-parallel-size")
    assert throughput.argv[dcp + 1] == "8"
    assert throughput.argv[:dcp] + throughput.argv[dcp + 2 :] == latency.argv


def test_venv_plan_matches_golden(prod_hosts: dict[str, HostData], manifest_dir: Path) -> None:
    base = prod_hosts["h200-01.example.internal"]
    host = HostData(
        base.name,
        {**base.data, "runtime": "venv"},
        {**base.sources, "runtime": "inventory/prod.py"},
        base.default_source,
    )
    plan = Planner(manifest_dir=manifest_dir, env_names=PROD_SECRETS).plan(host)
    _check("prod-h200-01-venv", plan)


def test_sandbox_plan_matches_golden(pushed_manifest_dir: Path) -> None:
    (plan,) = plan_inventory(INVENTORY_DIR / "sandbox.py", manifest_dir=pushed_manifest_dir)
    _check("sandbox-1", plan)
    assert plan.spec is not None
    # The image is the digest `invoke push` recorded, under the name the hosts reach the
    # registry by, and pulled as production pulls.
    assert plan.spec.image == f"vllm-fleet-registry:5000/vllm-fleet/cpu@{PUSHED_DIGEST}"
    assert plan.spec.image_pull


def test_sandbox_image_not_pushed_is_one_line_naming_the_push(manifest_dir: Path) -> None:
    (plan,) = plan_inventory(INVENTORY_DIR / "sandbox.py", manifest_dir=manifest_dir)
    assert plan.error == (
        f"{manifest_dir.relative_to(REPO_ROOT)}/cpu.json: repo_digests: no digest of "
        "vllm-fleet/cpu pushed to 127.0.0.1:5000 (image_registry, "
        "inventory/group_data/sandbox.py); push it: `invoke push --target cpu --registry "
        "127.0.0.1:5000`"
    )
