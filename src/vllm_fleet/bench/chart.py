"""A PNG of the gain table: one panel per metric, one bar per run, the gain written on it.

matplotlib with the Agg backend: no display, no GUI toolkit, the same picture on a laptop, a
controller over SSH and CI. The guide's published runs, when shown, are grey, so a reader sees at
a glance which bars are this host's.

    write_chart([tp8, dcp8], Path("gain.png"), baseline=load_baseline())
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # before pyplot: never look for a display

import matplotlib.pyplot as plt

from vllm_fleet.bench.compare import GAIN_METRICS, Metric, gain_rows, percent, shown
from vllm_fleet.bench.results import BenchResult
from vllm_fleet.paths import output_file

RUN_COLOURS = ("#4C72B0", "#DD8452")
GUIDE_COLOURS = ("#B0B0B0", "#707070")


def write_chart(
    runs: list[BenchResult], path: Path, baseline: list[BenchResult] | None = None
) -> Path:
    """Draw ``runs`` (two: before, after) and, if given, the guide's two runs; write ``path``."""
    bars = [(run, colour) for run, colour in zip(runs, RUN_COLOURS, strict=True)]
    if baseline:
        guide = [(run, colour) for run, colour in zip(baseline, GUIDE_COLOURS, strict=True)]
        bars = guide + bars
    gains = _gains(runs)
    guide_gains = _gains(baseline) if baseline else {}
    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5))
    for axis, metric in zip(axes.flat, GAIN_METRICS, strict=True):
        _panel(axis, metric, bars, gains[metric.key], guide_gains.get(metric.key))
    fig.suptitle(
        f"vllm bench serve: {runs[0].label} vs {runs[1].label}"
        + (" (grey: usage guide, 8xH200)" if baseline else "")
    )
    fig.tight_layout()
    path = output_file(path, "--chart")
    fig.savefig(path, dpi=100, format="png")
    plt.close(fig)
    return path


def _gains(runs: list[BenchResult]) -> dict[str, float | None]:
    return {row.metric.key: row.improvement_pct for row in gain_rows(runs[0], runs[1])}


def _panel(
    axis: plt.Axes,
    metric: Metric,
    bars: list[tuple[BenchResult, str]],
    gain: float | None,
    guide_gain: float | None,
) -> None:
    values = [run.value(metric.key) * metric.scale for run, _ in bars]
    labels = [_label(run) for run, _ in bars]
    drawn = axis.bar(range(len(bars)), values, color=[colour for _, colour in bars])
    axis.bar_label(drawn, labels=[shown(value, metric.digits) for value in values], padding=2)
    axis.set_xticks(range(len(bars)), labels, fontsize=8)
    better = "lower is better" if metric.lower_is_better else "higher is better"
    guide = f", guide {percent(guide_gain)}" if guide_gain is not None else ""
    axis.set_title(f"{metric.label}: {percent(gain)}{guide} ({better})", fontsize=10)
    axis.set_ylim(0, max(values) * 1.2 or 1)


def _label(run: BenchResult) -> str:
    return f"guide\n{run.label}" if run.extras.get("published") else run.label
