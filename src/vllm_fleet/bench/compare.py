"""The guide's "DCP Gain Analysis": two runs side by side, with the change and the gain.

The guide computed its table from the rounded figures it printed (request throughput 1.25 ->
1.57 is +25.6%; from the unrounded JSON it would be +26.2%). This module computes from whatever it
is given: a run's JSON (full precision) or the guide's published figures
(benchmarks/guide-baseline.yaml, rounded as published), so the guide's own table comes out
exactly as printed.

Improvement is signed so that positive is better: for throughput (higher is better) it is
``(B - A) / A``, for TTFT (lower is better) ``(A - B) / A``.

    rows = gain_rows(load_result("tp8.json"), load_result("dcp8.json"))
    print(markdown_table(rows, "TP8", "TP8+DCP8"))
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from vllm_fleet.bench.kvcache import KvCache
from vllm_fleet.bench.results import BenchResult
from vllm_fleet.errors import ConfigError
from vllm_fleet.paths import BENCHMARKS_DIR
from vllm_fleet.schema import Field, check_fields, load_yaml

BASELINE_FILE = BENCHMARKS_DIR / "guide-baseline.yaml"


@dataclass(frozen=True)
class Metric:
    """A row of the gain table: its label, --save-result key, display unit scale and digits."""

    label: str
    key: str
    scale: float
    digits: int
    lower_is_better: bool


# The guide's rows, in its order and with its units (TTFT shown in seconds, measured in ms).
GAIN_METRICS = (
    Metric("Request Throughput(req/s)", "request_throughput", 1.0, 2, False),
    Metric("Output Token Throughput(tok/s)", "output_throughput", 1.0, 2, False),
    Metric("Mean TTFT (sec)", "mean_ttft_ms", 0.001, 1, True),
    Metric("Median TTFT (sec)", "median_ttft_ms", 0.001, 1, True),
)
# Added when both runs carry the KV cache their server started with (bench --kv-from /
# --journal-host): the guide's "increased by 8 times" as a row.
KV_METRIC = Metric("KV cache size (tokens)", "kv_cache_tokens", 1.0, 0, False)


@dataclass(frozen=True)
class GainRow:
    """One metric of two runs: values in display units, the change B - A, the gain in %."""

    metric: Metric
    before: float
    after: float

    @property
    def change(self) -> float:
        return self.after - self.before

    @property
    def improvement_pct(self) -> float | None:
        """The gain in % (positive is better); None when A is 0 (no ratio exists)."""
        if self.before == 0:
            return None
        gain = self.change / self.before * 100
        return -gain if self.metric.lower_is_better else gain

    def cells(self) -> list[str]:
        """Metric, A, B, change, improvement: formatted as the guide prints them."""
        least = self.metric.digits
        change_digits = max(decimals(self.before, least), decimals(self.after, least))
        return [
            self.metric.label,
            shown(self.before, least),
            shown(self.after, least),
            f"{self.change:+,.{change_digits}f}",
            percent(self.improvement_pct),
        ]


def percent(value: float | None) -> str:
    return "n/a (A is 0)" if value is None else f"{value:+.1f}%"


def decimals(value: float, at_least: int) -> int:
    """The guide's decimals, or more when needed for 3 significant digits (a CPU run's TTFT is
    0.037 s, which the guide's one decimal would show as 0.0)."""
    return max(at_least, 2 - math.floor(math.log10(abs(value)))) if value else at_least


def shown(value: float, at_least: int) -> str:
    """``value`` with thousands separators and :func:`decimals` decimals."""
    return f"{value:,.{decimals(value, at_least)}f}"


def gain_rows(before: BenchResult, after: BenchResult) -> list[GainRow]:
    """The gain table of ``after`` over ``before`` (ResultFileError if a figure is missing);
    the KV cache row too when both runs have it."""
    metrics = list(GAIN_METRICS)
    if all(KV_METRIC.key in run.data for run in (before, after)):
        metrics.append(KV_METRIC)
    return [
        GainRow(
            metric, before.value(metric.key) * metric.scale, after.value(metric.key) * metric.scale
        )
        for metric in metrics
    ]


def markdown_table(rows: list[GainRow], before: str, after: str) -> str:
    """The guide's table, as Markdown (pastes into a ticket or a wiki as it is)."""
    lines = [
        f"| Metric | {before} | {after} | Change | Improvement(%) |",
        "|--------|-------------|-------------|--------|---------------|",
    ]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows]
    return "\n".join(lines)


def versus_baseline_table(runs: list[BenchResult], guide: list[BenchResult]) -> str:
    """Each run beside the guide's run of the same position (A vs TP8, B vs TP8+DCP8), and the
    gain each pair shows: does this host reproduce the guide's gain?"""
    ours = {row.metric.key: row for row in gain_rows(runs[0], runs[1])}
    header = (
        f"| Metric | guide {guide[0].label} | {runs[0].label} | guide {guide[1].label} | "
        f"{runs[1].label} | guide gain | your gain |"
    )
    lines = [header, "|" + "---|" * 7]
    for guide_row in gain_rows(guide[0], guide[1]):
        run_row = ours.get(guide_row.metric.key)
        if run_row is None:  # e.g. the KV cache row when your runs do not carry it
            continue
        least = guide_row.metric.digits
        cells = [
            guide_row.metric.label,
            shown(guide_row.before, least),
            shown(run_row.before, least),
            shown(guide_row.after, least),
            shown(run_row.after, least),
            percent(guide_row.improvement_pct),
            percent(run_row.improvement_pct),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


_BASELINE_FIELDS = {
    "source": Field(str),
    "model": Field(str),
    "preset": Field(str),
    "runs": Field(dict),
}
_RUN_FIELDS = {
    "profile": Field(str),
    "kv_cache": Field(dict, required=False),
    **{
        key: Field((int, float))
        for key in (
            "completed",
            "failed",
            "request_rate",
            "duration",
            "total_input_tokens",
            "total_output_tokens",
            "request_throughput",
            "output_throughput",
            "max_output_tokens_per_s",
            "max_concurrent_requests",
            "total_token_throughput",
            "mean_ttft_ms",
            "median_ttft_ms",
            "p99_ttft_ms",
            "mean_tpot_ms",
            "median_tpot_ms",
            "p99_tpot_ms",
            "mean_itl_ms",
            "median_itl_ms",
            "p99_itl_ms",
        )
    },
}
_KV_FIELDS = {
    "device": Field(str),
    "tokens": Field(int),
    "dcp_multiplier": Field(int),
    "available_gib": Field((int, float), required=False),
}


def load_baseline(path: Path = BASELINE_FILE) -> list[BenchResult]:
    """The guide's published runs, in file order (TP8, then TP8+DCP8), as BenchResults whose
    source names the file and entry and whose ``extras["published"]`` says where the figures
    come from. The start-up KV cache becomes ``kv_cache_*`` keys, as a run's --metadata."""
    data = check_fields(path, "", load_yaml(path), _BASELINE_FIELDS)
    runs = []
    for label, body in data["runs"].items():
        where = f"runs.{label}"
        check_fields(path, where, body, _RUN_FIELDS)
        figures = {key: value for key, value in body.items() if key != "kv_cache"}
        if "kv_cache" in body:
            kv = check_fields(path, f"{where}.kv_cache", body["kv_cache"], _KV_FIELDS)
            figures.update(
                KvCache(
                    kv["device"], kv["tokens"], kv["dcp_multiplier"], kv.get("available_gib")
                ).metadata()
            )
        runs.append(
            BenchResult(str(label), figures, f"{path}:{where}", {"published": data["source"]})
        )
    if len(runs) != 2:
        raise ConfigError(
            path, "runs", f"expected exactly two runs (before, after), got {len(runs)}"
        )
    return runs
