"""Which vLLM and vllm-router metric names the rules and dashboards use.

vLLM renames metrics between versions (e.g. vllm:gpu_cache_usage_perc became
vllm:kv_cache_usage_perc in the V1 engine), and a rule on a name nobody exports never fires, so
the slow tier checks these names against a real scrape of the pinned versions.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from vllm_fleet.monitoring.dashboards import load_dashboards
from vllm_fleet.monitoring.promtool import rule_files

# vLLM's own names carry a `vllm:` prefix; vllm-router's a `vllm_router_` one.
VLLM_NAME = re.compile(r"\bvllm:[A-Za-z0-9_:]+")
ROUTER_NAME = re.compile(r"\bvllm_router_[A-Za-z0-9_]+")
# vLLM's API server also exports prometheus-fastapi-instrumentator's HTTP counters.
VLLM_HTTP_NAME = re.compile(r"\bhttp_requests_total\b")


def rule_expressions(paths: list[Path] | None = None) -> list[str]:
    exprs = []
    for path in paths or rule_files():
        for group in yaml.safe_load(path.read_text())["groups"]:
            exprs.extend(rule["expr"] for rule in group["rules"])
    return exprs


def all_expressions() -> list[str]:
    return rule_expressions() + [e for d in load_dashboards() for e in d.expressions()]


def used_names(pattern: re.Pattern[str], exprs: list[str] | None = None) -> set[str]:
    return {
        m
        for expr in (exprs if exprs is not None else all_expressions())
        for m in pattern.findall(expr)
    }
