"""The guide's numbers, recomputed: its summary blocks and its "DCP Gain Analysis" table come out
of the published figures (benchmarks/guide-baseline.yaml) exactly as the guide printed them.
tests/bench/guide/ holds the guide's text, copied verbatim."""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path

import pytest

from vllm_fleet.bench.chart import write_chart
from vllm_fleet.bench.compare import (
    BASELINE_FILE,
    gain_rows,
    load_baseline,
    markdown_table,
    versus_baseline_table,
)
from vllm_fleet.bench.results import BenchResult, load_result, summary_lines
from vllm_fleet.errors import ConfigError, ResultFileError

from .conftest import GUIDE_DIR, InvokeTask

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def guide() -> list[BenchResult]:
    return load_baseline()


def as_result_files(runs: list[BenchResult], folder: Path) -> list[Path]:
    """The published figures as `--save-result` files (the same keys), without the KV cache."""
    paths = []
    for name, run in zip(("tp8", "tp8-dcp8"), runs, strict=True):
        data = {k: v for k, v in run.data.items() if not k.startswith("kv_cache_")}
        path = folder / f"{name}.json"
        path.write_text(json.dumps({**data, "label": run.label}))
        paths.append(path)
    return paths


def test_gain_table_reproduces_the_guides(guide: list[BenchResult]) -> None:
    improvements = [f"{row.improvement_pct:+.1f}%" for row in gain_rows(*guide)][:4]
    assert improvements == ["+25.6%", "+43.1%", "+16.0%", "+0.1%"]
    changes = [row.cells()[3] for row in gain_rows(*guide)][:4]
    assert changes == ["+0.32", "+209.35", "-43.4", "-0.3"]


def test_markdown_table_is_the_guides_table_line_for_line(guide: list[BenchResult]) -> None:
    table = markdown_table(gain_rows(*guide), guide[0].label, guide[1].label).splitlines()
    assert table[:6] == (GUIDE_DIR / "dcp-gain-table.md").read_text().splitlines()
    # and the start-up KV cache, "increased by 8 times", as one more row
    assert table[6] == "| KV cache size (tokens) | 715,072 | 5,721,088 | +5,006,016 | +700.1% |"


def test_result_files_of_the_same_figures_give_the_same_table(
    guide: list[BenchResult], tmp_path: Path
) -> None:
    runs = [load_result(path) for path in as_result_files(guide, tmp_path)]
    assert [run.label for run in runs] == ["TP8", "TP8+DCP8"]
    assert len(gain_rows(*runs)) == 4  # no KV cache in these files: no KV row
    table = markdown_table(gain_rows(*runs), "TP8", "TP8+DCP8")
    assert table.splitlines() == (GUIDE_DIR / "dcp-gain-table.md").read_text().splitlines()


def test_ttft_falling_is_an_improvement_and_rising_a_loss(guide: list[BenchResult]) -> None:
    forward = {row.metric.key: row.improvement_pct for row in gain_rows(guide[0], guide[1])}
    backward = {row.metric.key: row.improvement_pct for row in gain_rows(guide[1], guide[0])}
    assert forward["mean_ttft_ms"] > 0 > backward["mean_ttft_ms"]
    assert forward["output_throughput"] > 0 > backward["output_throughput"]


@pytest.mark.parametrize("index,name", [(0, "tp8"), (1, "tp8-dcp8")])
def test_summary_block_is_the_guides_block(guide: list[BenchResult], index: int, name: str) -> None:
    published = (GUIDE_DIR / f"{name}-summary.txt").read_text().splitlines()
    assert summary_lines(guide[index]) == published


def test_kv_rows_go_with_the_totals(guide: list[BenchResult]) -> None:
    lines = summary_lines(guide[1], [("GPU KV cache size (tokens):", "5,721,088")])
    at = lines.index("GPU KV cache size (tokens):              5,721,088 ")
    assert lines[at - 1].startswith("Total Token throughput (tok/s):")
    assert "Time to First Token" in lines[at + 1]


def test_versus_baseline_sets_each_run_beside_the_guides(
    guide: list[BenchResult], tmp_path: Path
) -> None:
    mine = [load_result(path) for path in as_result_files(guide, tmp_path)]
    mine[1].data["output_throughput"] = 600.0
    table = versus_baseline_table(mine, guide).splitlines()
    assert table[0] == (
        "| Metric | guide TP8 | TP8 | guide TP8+DCP8 | TP8+DCP8 | guide gain | your gain |"
    )
    assert table[3] == (
        "| Output Token Throughput(tok/s) | 485.78 | 485.78 | 695.13 | 600.00 | +43.1% | +23.5% |"
    )
    assert len(table) == 6  # your runs carry no KV cache, so no KV row


def test_small_values_keep_three_significant_digits() -> None:
    """A CPU run's TTFT is tens of ms; the guide's one decimal of seconds would print 0.0."""
    runs = [
        BenchResult(
            name,
            {
                "request_throughput": 9.8,
                "output_throughput": 157.2,
                "mean_ttft_ms": ttft,
                "median_ttft_ms": ttft,
            },
            "test",
        )
        for name, ttft in (("a", 36.76), ("b", 9.99))
    ]
    assert gain_rows(*runs)[2].cells()[1:4] == ["0.0368", "0.00999", "-0.02677"]


def test_chart_is_a_png_of_both_runs_and_the_guide(
    guide: list[BenchResult], tmp_path: Path
) -> None:
    mine = [load_result(path) for path in as_result_files(guide, tmp_path)]
    path = write_chart(mine, tmp_path / "gain.png", baseline=guide)
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk
    assert (width, height) == (1100, 750)
    assert len(data) > 20_000


@pytest.mark.parametrize(
    "content,problem",
    [
        ("{not json", "not a JSON file"),
        ("[1, 2]", "expected a JSON object"),
        ('{"completed": 1, "failed": 0}', "duration: missing (is this a `vllm bench serve"),
    ],
)
def test_a_file_that_is_not_a_result_says_so(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "run.json"
    path.write_text(content)
    with pytest.raises(ResultFileError, match=re.escape(problem)):
        load_result(path)


def test_missing_result_file(tmp_path: Path) -> None:
    with pytest.raises(ResultFileError, match=r"run\.json: file not found"):
        load_result(tmp_path / "run.json")


def test_baseline_file_is_checked(tmp_path: Path) -> None:
    text = BASELINE_FILE.read_text()
    broken = tmp_path / "baseline.yaml"
    broken.write_text(text.replace("output_throughput: 695.13", "output_throughput: fast"))
    with pytest.raises(ConfigError, match=r"runs\.TP8\+DCP8\.output_throughput: expected"):
        load_baseline(broken)


def test_compare_task_prints_table_and_writes_chart(
    guide: list[BenchResult], tmp_path: Path, invoke_task: InvokeTask
) -> None:
    first, second = as_result_files(guide, tmp_path)
    chart = tmp_path / "gain.png"
    proc = invoke_task(
        "bench.compare", str(first), str(second), "--chart", str(chart), "--baseline"
    )
    assert proc.returncode == 0, proc.stderr
    assert "| Output Token Throughput(tok/s) | 485.78 | 695.13 | +209.35 | +43.1% |" in proc.stdout
    assert "Against the usage guide" in proc.stdout
    assert chart.read_bytes()[:8] == PNG_MAGIC


def test_compare_task_fails_in_one_line_on_a_bad_file(
    tmp_path: Path, invoke_task: InvokeTask
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    proc = invoke_task("bench.compare", str(bad), str(bad))
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        f"bench.compare: {bad}: completed: missing (is this a "
        "`vllm bench serve --save-result` file?)"
    )
