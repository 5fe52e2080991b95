"""Read vLLM's Prometheus text (``/metrics``) well enough to find series and add them up.

Only the sample lines matter to the smoke check (``name{labels} value``); comments, timestamps
and exemplars are skipped. Names are the exported ones (counters end in ``_total``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Series the smoke check requires; their names are stable across vLLM 0.11 .. 0.33
# (vllm/v1/metrics/loggers.py, v0.11.2 to v0.33.0).
REQUIRED_SERIES = ("vllm:num_requests_running", "vllm:generation_tokens_total")
# Counters that must grow while the checks generate text.
TOKEN_COUNTERS = ("vllm:prompt_tokens_total", "vllm:generation_tokens_total")
# Behind a router (vllm_fleet.router), /metrics is vllm-router's own exporter (src/metrics.rs in
# github.com/vllm-project/router): its series, and the per-worker counter that must grow.
ROUTER_SERIES = ("vllm_router_active_workers", "vllm_router_processed_requests_total")
ROUTER_COUNTER = "vllm_router_processed_requests_total"

_SAMPLE = re.compile(
    r"^(?P<name>[A-Za-z_:][A-Za-z0-9_:]*)(?:\{(?P<labels>.*)\})?\s+"
    r"(?P<value>\S+)"
)
_LABEL = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class Sample:
    """One sample line: the series name, its labels and its value."""

    name: str
    labels: dict[str, str]
    value: float


def parse_metrics(text: str) -> list[Sample]:
    """Every sample line of a Prometheus text exposition."""
    samples = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE.match(line)
        if not match:
            continue
        try:
            value = float(match["value"])
        except ValueError:
            continue
        labels = dict(_LABEL.findall(match["labels"] or ""))
        samples.append(Sample(match["name"], labels, value))
    return samples


def series_names(samples: list[Sample]) -> set[str]:
    """The distinct series names present."""
    return {s.name for s in samples}


def total(samples: list[Sample], name: str, model: str | None = None) -> float | None:
    """Sum of ``name`` over its label sets, only those of ``model`` when the series carry a
    ``model_name`` label for it; None when the series is absent."""
    chosen = [s for s in samples if s.name == name]
    if not chosen:
        return None
    if model is not None and any(s.labels.get("model_name") == model for s in chosen):
        chosen = [s for s in chosen if s.labels.get("model_name") == model]
    return sum(s.value for s in chosen)
