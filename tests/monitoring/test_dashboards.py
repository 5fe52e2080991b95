"""Dashboards kept as YAML, rendered to Grafana's JSON model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vllm_fleet.errors import ConfigError
from vllm_fleet.monitoring.dashboards import (
    DATASOURCE,
    checkable_queries,
    load_dashboard,
    load_dashboards,
    render_dashboard,
)
from vllm_fleet.monitoring.names import ROUTER_NAME, VLLM_NAME, used_names


def test_there_is_a_vllm_dashboard_and_a_fleet_overview() -> None:
    uids = {d.uid for d in load_dashboards()}
    assert uids == {"vllm-fleet-vllm", "vllm-fleet-overview"}


def test_fleet_overview_covers_health_requests_tokens_kv_cache_and_restarts() -> None:
    (fleet,) = [d for d in load_dashboards() if d.uid == "vllm-fleet-overview"]
    text = " ".join(fleet.expressions())
    for name in (
        "up",
        "vllm:num_requests_running",
        "vllm:num_requests_waiting",
        "vllm:generation_tokens_total",
        "vllm:kv_cache_usage_perc",
        "node_systemd_service_restart_total",
    ):
        assert name in text


def test_rendered_json_has_every_query_on_the_provisioned_data_source() -> None:
    for dashboard in load_dashboards():
        model = json.loads(render_dashboard(dashboard))
        assert model["uid"] == dashboard.uid
        exprs = [t["expr"] for p in model["panels"] for t in p["targets"]]
        assert exprs == [q for p in dashboard.panels for q in p.queries.values()]
        assert {p["datasource"]["uid"] for p in model["panels"]} == {DATASOURCE["uid"]}
        ids = [p["id"] for p in model["panels"]]
        assert len(ids) == len(set(ids))


def test_grafana_placeholders_are_replaced_before_checking() -> None:
    for dashboard in load_dashboards():
        for query in checkable_queries(dashboard):
            assert "$" not in query, query


def test_vllm_names_come_from_rules_and_dashboards() -> None:
    names = used_names(VLLM_NAME)
    assert {"vllm:kv_cache_usage_perc", "vllm:num_requests_waiting"} <= names
    assert used_names(ROUTER_NAME) == {"vllm_router_worker_health"}


def test_a_panel_without_queries_is_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("uid: x\ntitle: X\ndescription: d\npanels:\n  - title: empty\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: panels\[0\]: a panel needs a title"):
        load_dashboard(bad)
