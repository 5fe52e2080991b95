"""`invoke lint`'s unit half: every inventory host's unit passes `systemd-analyze verify`."""

from __future__ import annotations

from pathlib import Path

import pytest

from vllm_fleet.paths import INVENTORY_DIR
from vllm_fleet.serving import unitlint
from vllm_fleet.serving.plan import Planner


def test_every_prod_host_unit_verifies(manifest_dir: Path) -> None:
    results = unitlint.verify_inventory_units(
        [INVENTORY_DIR / "prod.py"], Planner(manifest_dir=manifest_dir)
    )
    assert [r.variant for r in results] == [
        "prod.py:h200-01.example.internal",
        "prod.py:h200-02.example.internal",
        "prod.py:mi300x-01.example.internal",
        "prod.py:mi300x-02.example.internal",
        "prod.py:router-01.example.internal:vllm-router.service",
        "prod.py:router-01.example.internal:vllm-router-workers.service",
    ]
    assert all(r.ok for r in results), [r.output for r in results if not r.ok]


def test_a_unit_systemd_rejects_is_a_finding(manifest_dir: Path, monkeypatch) -> None:
    monkeypatch.setattr(
        unitlint,
        "render_unit",
        lambda spec: "[Service]\nType=exec\nExecStart=relative/vllm serve\n",
    )
    (result,) = unitlint.verify_inventory_units(
        [INVENTORY_DIR / "prod.py"], Planner(manifest_dir=manifest_dir)
    )[:1]
    assert not result.ok
    assert "relative/vllm" in result.output


def test_a_host_without_a_unit_is_a_finding(tmp_path: Path) -> None:
    results = unitlint.verify_inventory_units(
        [INVENTORY_DIR / "sandbox.py"], Planner(manifest_dir=tmp_path)
    )
    # The serving unit cannot be planned without a manifest; the router's two (host 1) can.
    assert [(r.ok, r.output[:9]) for r in results] == [(False, "no unit: "), *[(True, "")] * 2]
    assert "invoke build --target cpu" in results[0].output


@pytest.fixture(autouse=True)
def _needs_systemd_analyze() -> None:
    assert unitlint.shutil.which("systemd-analyze"), "scripts/host-prereqs.sh installs systemd"
