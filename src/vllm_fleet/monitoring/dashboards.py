"""Dashboards kept as data (monitoring/dashboards/*.yaml) and rendered to Grafana's JSON model
(https://grafana.com/docs/grafana/latest/dashboards/build-dashboards/view-dashboard-json-model/).

A dashboard file names its variables (Grafana query variables) and its panels, each a title, a
unit and its queries (legend -> PromQL). Grafana's own placeholders ($host, $__rate_interval)
are replaced by concrete values in ``checkable_queries`` so promtool can parse every query.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from vllm_fleet.errors import ConfigError
from vllm_fleet.paths import MONITORING_DIR
from vllm_fleet.serving.models import display_path

DASHBOARDS_DIR = MONITORING_DIR / "dashboards"
# The data source every panel uses; the provisioning file gives Prometheus this uid.
DATASOURCE = {"type": "prometheus", "uid": "vllm-fleet-prometheus"}
_GRAFANA_VARIABLE = re.compile(r"\$(__rate_interval|__interval|__range|[A-Za-z_]\w*)")


@dataclass(frozen=True)
class Panel:
    title: str
    unit: str
    queries: dict[str, str]


@dataclass(frozen=True)
class Dashboard:
    path: Path
    uid: str
    title: str
    description: str
    variables: dict[str, str]
    panels: tuple[Panel, ...]

    def expressions(self) -> list[str]:
        """Every PromQL expression: the panels' queries and the variables' label_values."""
        out = [q for panel in self.panels for q in panel.queries.values()]
        return out + [_label_values_selector(v) for v in self.variables.values()]


def load_dashboards(folder: Path = DASHBOARDS_DIR) -> list[Dashboard]:
    return [load_dashboard(path) for path in sorted(folder.glob("*.yaml"))]


def load_dashboard(path: Path) -> Dashboard:
    shown = display_path(path)
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict):
        raise ConfigError(shown, "", "expected a mapping with uid, title, panels")
    for name in ("uid", "title", "description", "panels"):
        if name not in data:
            raise ConfigError(shown, name, "missing (required)")
    panels = []
    for index, raw in enumerate(data["panels"]):
        where = f"panels[{index}]"
        if not isinstance(raw, dict) or not raw.get("queries") or not raw.get("title"):
            raise ConfigError(shown, where, "a panel needs a title and queries (legend: PromQL)")
        panels.append(
            Panel(
                title=raw["title"],
                unit=raw.get("unit", "none"),
                queries={str(k): str(v) for k, v in raw["queries"].items()},
            )
        )
    return Dashboard(
        path=path,
        uid=data["uid"],
        title=data["title"],
        description=data["description"],
        variables=dict(data.get("variables") or {}),
        panels=tuple(panels),
    )


def grafana_json(dashboard: Dashboard) -> dict[str, Any]:
    """The Grafana dashboard model: timeseries panels two per row, query variables on top."""
    panels = []
    for index, panel in enumerate(dashboard.panels):
        panels.append(
            {
                "id": index + 1,
                "type": "timeseries",
                "title": panel.title,
                "datasource": DATASOURCE,
                "gridPos": {"h": 8, "w": 12, "x": 12 * (index % 2), "y": 8 * (index // 2)},
                "fieldConfig": {"defaults": {"unit": panel.unit}, "overrides": []},
                "targets": [
                    {
                        "datasource": DATASOURCE,
                        "expr": expr,
                        "legendFormat": legend,
                        "refId": chr(ord("A") + n),
                        "range": True,
                    }
                    for n, (legend, expr) in enumerate(panel.queries.items())
                ],
            }
        )
    variables = [
        {
            "name": name,
            "type": "query",
            "datasource": DATASOURCE,
            "query": {"query": query, "refId": name},
            "definition": query,
            "includeAll": True,
            "multi": True,
            "allValue": ".+",
            "refresh": 2,
            "current": {"text": "All", "value": "$__all"},
        }
        for name, query in dashboard.variables.items()
    ]
    return {
        "uid": dashboard.uid,
        "title": dashboard.title,
        "description": dashboard.description,
        "tags": ["vllm-fleet"],
        "editable": False,
        "schemaVersion": 39,
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "30s",
        "templating": {"list": variables},
        "panels": panels,
    }


def render_dashboard(dashboard: Dashboard) -> str:
    return json.dumps(grafana_json(dashboard), indent=2, sort_keys=True) + "\n"


def checkable_queries(dashboard: Dashboard) -> list[str]:
    """The expressions with Grafana's placeholders replaced, ready for promtool to parse."""
    return [_GRAFANA_VARIABLE.sub(_concrete, expr) for expr in dashboard.expressions()]


def _concrete(match: re.Match[str]) -> str:
    name = match.group(1)
    return "5m" if name.startswith("__") else ".+"


def _label_values_selector(query: str) -> str:
    """label_values(SELECTOR, label) -> SELECTOR (what Grafana asks Prometheus for)."""
    inner = re.fullmatch(r"label_values\((.*),\s*\w+\)", query.strip())
    return inner.group(1) if inner else query
