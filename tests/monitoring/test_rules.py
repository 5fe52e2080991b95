"""The alert rules and dashboards, checked with the real promtool (Debian's `prometheus`).

Each alert has a `promtool test rules` case (monitoring/rules/vllm-fleet.test.yml): input series
and the alerts expected at given times. These tests run them, and show that they can fail.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from vllm_fleet.monitoring import promtool
from vllm_fleet.monitoring.dashboards import load_dashboards
from vllm_fleet.monitoring.names import rule_expressions

RUNBOOK = Path(__file__).parents[2] / "docs" / "runbooks" / "alert-fired.md"


def _alerts(path: Path) -> list[dict]:
    return [
        rule
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ]


def test_rule_files_pass_promtool_check() -> None:
    for path in promtool.rule_files():
        assert "SUCCESS" in promtool.run("check", "rules", str(path))


def test_every_alert_has_a_promtool_test_case_and_they_pass() -> None:
    tested = {
        case["alertname"]
        for path in promtool.rule_tests()
        for test in yaml.safe_load(path.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    alerts = {rule["alert"] for path in promtool.rule_files() for rule in _alerts(path)}
    assert alerts - tested == set(), "alerts without a firing test case"
    assert "SUCCESS" in promtool.test_rules()


def test_a_changed_threshold_fails_the_rule_tests(tmp_path: Path) -> None:
    """The cases pin the thresholds: a KV-cache threshold of 0.99 no longer fires at 0.99."""
    for path in promtool.rule_files() + promtool.rule_tests():
        shutil.copy(path, tmp_path / path.name)
    rules = tmp_path / promtool.rule_files()[0].name
    rules.write_text(
        rules.read_text().replace(
            "(vllm:kv_cache_usage_perc) > 0.95", "(vllm:kv_cache_usage_perc) > 0.99"
        )
    )
    with pytest.raises(promtool.PromtoolError, match="VllmKvCacheFull"):
        promtool.run("test", "rules", *[p.name for p in promtool.rule_tests()], cwd=tmp_path)


def test_a_broken_expression_is_promtools_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.rules.yml"
    bad.write_text("groups:\n- name: x\n  rules:\n  - alert: X\n    expr: sum by (host (up)\n")
    with pytest.raises(promtool.PromtoolError, match="parse error"):
        promtool.run("check", "rules", str(bad))


def test_every_alert_has_a_runbook_section() -> None:
    text = RUNBOOK.read_text()
    for path in promtool.rule_files():
        for rule in _alerts(path):
            assert f"## {rule['annotations']['runbook']}" in text, rule["alert"]


@pytest.mark.parametrize("dashboard", load_dashboards(), ids=lambda d: d.uid)
def test_dashboard_queries_parse(dashboard) -> None:
    assert "SUCCESS" in promtool.check_dashboard_queries(dashboard)


def test_rule_expressions_are_read_from_the_files() -> None:
    assert any("vllm:kv_cache_usage_perc" in e for e in rule_expressions())
