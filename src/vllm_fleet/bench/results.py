"""`vllm bench serve --save-result` files: reading them, and printing them as the guide does.

The raw JSON stays the record (it is what `bench.compare` reads, and what an operator attaches to
an upgrade ticket); this module only checks that a file is one and prints the summary block with
the guide's labels, so a run on your hosts reads line for line against the published one.

    result = load_result(Path("runs/tp8.json"))
    print("\\n".join(summary_lines(result)))
"""

from __future__ import annotations

import contextlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vllm_fleet.errors import ResultFileError

# Keys that every comparison needs; a file without them is not a bench result.
REQUIRED_KEYS = (
    "completed",
    "failed",
    "duration",
    "request_throughput",
    "output_throughput",
    "mean_ttft_ms",
    "median_ttft_ms",
)

# What makes two runs comparable: the same served model and the same workload (the preset's
# name, which `invoke bench` stores with --metadata, and the load figures vllm stores itself).
PRESET_KEY = "preset"
RUN_IDENTITY_KEYS = (
    "model_id",
    PRESET_KEY,
    "num_prompts",
    "request_rate",
    "max_concurrency",
    "burstiness",
)

# The guide's summary block: (label, --save-result key, format). Section rows have no key.
SUMMARY_HEADER = "============ Serving Benchmark Result ============"
SUMMARY_ROWS: tuple[tuple[str, str | None, str], ...] = (
    ("Successful requests:", "completed", "d"),
    ("Failed requests:", "failed", "d"),
    ("Request rate configured (RPS):", "request_rate", ".2f"),
    ("Benchmark duration (s):", "duration", ".2f"),
    ("Total input tokens:", "total_input_tokens", "d"),
    ("Total generated tokens:", "total_output_tokens", "d"),
    ("Request throughput (req/s):", "request_throughput", ".2f"),
    ("Output token throughput (tok/s):", "output_throughput", ".2f"),
    ("Peak output token throughput (tok/s):", "max_output_tokens_per_s", ".2f"),
    ("Peak concurrent requests:", "max_concurrent_requests", ".2f"),
    ("Total Token throughput (tok/s):", "total_token_throughput", ".2f"),
    ("Time to First Token", None, ""),
    ("Mean TTFT (ms):", "mean_ttft_ms", ".2f"),
    ("Median TTFT (ms):", "median_ttft_ms", ".2f"),
    ("P99 TTFT (ms):", "p99_ttft_ms", ".2f"),
    ("Time per Output Token (excl. 1st token)", None, ""),
    ("Mean TPOT (ms):", "mean_tpot_ms", ".2f"),
    ("Median TPOT (ms):", "median_tpot_ms", ".2f"),
    ("P99 TPOT (ms):", "p99_tpot_ms", ".2f"),
    ("Inter-token Latency", None, ""),
    ("Mean ITL (ms):", "mean_itl_ms", ".2f"),
    ("Median ITL (ms):", "median_itl_ms", ".2f"),
    ("P99 ITL (ms):", "p99_itl_ms", ".2f"),
)


@dataclass(frozen=True)
class BenchResult:
    """One benchmark run: a display label, its figures by --save-result key, and where it came
    from (a file, or a data file's entry for the guide's published runs)."""

    label: str
    data: dict[str, Any]
    source: str
    extras: dict[str, Any] = field(default_factory=dict)

    def value(self, key: str) -> float:
        """A figure as a float (``--metadata`` figures are strings of digits); ResultFileError
        if the run does not have it."""
        number = self.data.get(key)
        if isinstance(number, str):
            with contextlib.suppress(ValueError):
                number = float(number)
        if isinstance(number, bool) or not isinstance(number, int | float):
            raise ResultFileError(self.source, key, f"missing or not a number ({number!r})")
        if not math.isfinite(number):
            raise ResultFileError(
                self.source, key, f"{number!r} is not a finite number; the run did not measure it"
            )
        return float(number)


def load_result(path: Path | str, label: str | None = None) -> BenchResult:
    """Read a --save-result file. The label is ``label``, else the run's own ``--label``, else
    the file name without .json."""
    path = Path(path)
    data = read_json_object(path, "a --save-result file")
    missing = [key for key in REQUIRED_KEYS if key not in data]
    if missing:
        raise ResultFileError(
            path, missing[0], "missing (is this a `vllm bench serve --save-result` file?)"
        )
    return BenchResult(label or data.get("label") or path.stem, data, str(path))


def differences(a: BenchResult, b: BenchResult) -> list[str]:
    """How two runs differ in model or workload (keys either run records), e.g.
    ``model_id: 'kimi' vs 'llama'``; empty when they are comparable."""
    out = []
    for key in RUN_IDENTITY_KEYS:
        if key in a.data or key in b.data:
            first, second = a.data.get(key), b.data.get(key)
            if first != second:
                out.append(f"{key}: {first!r} vs {second!r}")
    return out


def summary_lines(result: BenchResult, extra: list[tuple[str, str]] | None = None) -> list[str]:
    """The guide's summary block for ``result``; rows the run lacks are left out, ``extra``
    rows (e.g. the host's KV cache) follow the totals."""
    lines = [SUMMARY_HEADER]
    pending_extra = list(extra or [])
    for label, key, fmt in SUMMARY_ROWS:
        if key is None:
            lines += [f"{name:<40} {shown:<10}" for name, shown in pending_extra]
            pending_extra = []
            lines.append(f"{label:-^50}")
            continue
        value = result.data.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            shown = format(int(value) if fmt == "d" else value, fmt)
            lines.append(f"{label:<40} {shown:<10}")
    lines.append("=" * 50)
    return lines


def read_json_object(path: Path, what: str) -> dict[str, Any]:
    """A JSON object from ``path``, or one ResultFileError naming the file and ``what`` it
    should have been."""
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ResultFileError(path, "", "file not found") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ResultFileError(path, "", f"not a JSON file ({err})") from None
    if not isinstance(data, dict):
        raise ResultFileError(path, "", f"expected a JSON object ({what})")
    return data
