"""`invoke bench` for real: the small preset with real `vllm bench serve` (from the cpu image)
against the CPU tiny-model server, twice, then `invoke bench.compare` of the two result files
with the chart. Slow tier: needs Docker, the cpu image and a running server (~1 min here)."""

from __future__ import annotations

import json
import re
import struct
import time
from pathlib import Path

import pytest

from vllm_fleet.bench.kvcache import KvCache, parse_kv_cache

from .conftest import run_task

pytestmark = pytest.mark.slow

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
LABELS = ("first", "second")


@pytest.fixture(scope="module")
def server_log(kimi_tiny_server, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The server's start-up log, as an operator would save it for --kv-from."""
    path = tmp_path_factory.mktemp("server") / "vllm.log"
    path.write_bytes(kimi_tiny_server.container.logs())
    return path


@pytest.fixture(scope="module")
def two_runs(
    kimi_tiny_server,
    cpu_image: str,
    tiny_model_dir: Path,
    server_log: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, list, list[float]]:
    """`invoke bench --preset small` twice: (out dir, the processes, their wall times)."""
    out = tmp_path_factory.mktemp("bench")
    procs, seconds = [], []
    for label in LABELS:
        started = time.monotonic()
        procs.append(
            run_task(
                "bench",
                "--url",
                kimi_tiny_server.url,
                "--model",
                "kimi-tiny",
                "--preset",
                "small",
                "--out",
                str(out),
                "--image",
                cpu_image,
                "--tokenizer",
                str(tiny_model_dir),
                "--label",
                label,
                "--kv-from",
                str(server_log),
            )
        )
        seconds.append(time.monotonic() - started)
    print(f"\nsmall preset wall times: {', '.join(f'{s:.1f} s' for s in seconds)}")
    return out, procs, seconds


def result_files(out: Path) -> list[Path]:
    return [next(out.glob(f"{label}-kimi-tiny-*.json")) for label in LABELS]


def test_both_runs_succeed_and_print_the_guides_summary(two_runs) -> None:
    _, procs, _ = two_runs
    for proc in procs:
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert "============ Serving Benchmark Result ============" in proc.stdout
        assert re.search(r"^Successful requests: +20 +$", proc.stdout, re.M)
        assert re.search(r"^Failed requests: +0 +$", proc.stdout, re.M)
        assert re.search(r"^CPU KV cache size \(tokens\): +[\d,]+ +$", proc.stdout, re.M)


def test_raw_results_are_kept_with_the_servers_kv_cache(two_runs, server_log: Path) -> None:
    out, _, _ = two_runs
    expected_kv = parse_kv_cache(server_log.read_text())
    assert expected_kv is not None and expected_kv.device == "CPU"
    for label, path in zip(LABELS, result_files(out), strict=True):
        data = json.loads(path.read_text())
        assert (data["label"], data["completed"], data["failed"]) == (label, 20, 0)
        assert data["total_output_tokens"] == 20 * 16  # ignore-eos: every answer is 16 tokens
        assert KvCache.from_metadata(data) == KvCache(
            expected_kv.device,
            expected_kv.tokens,
            expected_kv.dcp_multiplier,
            expected_kv.memory_gib,
        )
        assert "Serving Benchmark Result" in path.with_suffix(".log").read_text()


def test_compare_the_two_runs_with_a_chart(two_runs, tmp_path: Path) -> None:
    out, _, _ = two_runs
    chart = tmp_path / "gain.png"
    proc = run_task("bench.compare", *map(str, result_files(out)), "--chart", str(chart))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "| Metric | first | second | Change | Improvement(%) |"
    rows = [line.split(" | ")[0].lstrip("| ") for line in lines[2:7]]
    assert rows == [
        "Request Throughput(req/s)",
        "Output Token Throughput(tok/s)",
        "Mean TTFT (sec)",
        "Median TTFT (sec)",
        "KV cache size (tokens)",
    ]
    data = chart.read_bytes()
    assert data[:8] == PNG_MAGIC
    assert struct.unpack(">II", data[16:24]) == (1100, 750)
    assert len(data) > 20_000


def test_a_dead_endpoint_fails_in_one_line(
    cpu_image: str, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Port 9 on loopback: nothing listens. `vllm bench serve` itself exits 0 with every request
    failed; the task refuses that run and says why the first request died."""
    proc = run_task(
        "bench",
        "--url",
        "http://127.0.0.1:9",
        "--model",
        "kimi-tiny",
        "--preset",
        "small",
        "--out",
        str(tmp_path),
        "--image",
        cpu_image,
        "--tokenizer",
        str(tiny_model_dir),
        "--label",
        "dead",
    )
    assert proc.returncode == 1
    message = proc.stderr.strip().splitlines()[-1]
    assert message.startswith(
        "bench: vllm bench serve: no request succeeded (20 failed) against "
        "http://127.0.0.1:9 (model 'kimi-tiny'): aiohttp.client_exceptions."
        "ClientConnectorError: Cannot connect to host 127.0.0.1:9"
    ), message
    assert "Serving Benchmark Result" not in proc.stdout
