"""The `vllm bench serve` command the container runs, and where its files go (no Docker here)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from vllm_fleet.bench.presets import get_preset
from vllm_fleet.bench.runner import (
    RESULTS_MOUNT,
    TOKENIZER_MOUNT,
    _tokenizer_mount,
    bench_argv,
    default_image,
    first_request_error,
    result_stem,
)
from vllm_fleet.errors import ConfigError


def test_guide_preset_command() -> None:
    argv = bench_argv(
        "http://10.0.0.5:8000",
        "kimi-k2-thinking",
        get_preset("guide"),
        "TP8.json",
        label="TP8",
        metadata={"kv_cache_tokens": "715072"},
    )
    assert argv == [
        "bench",
        "serve",
        "--base-url",
        "http://10.0.0.5:8000",
        "--model",
        "kimi-k2-thinking",
        "--label",
        "TP8",
        "--backend",
        "openai",
        "--dataset-name",
        "random",
        "--random-input-len",
        "8000",
        "--random-output-len",
        "4000",
        "--request-rate",
        "100",
        "--num-prompts",
        "1000",
        "--trust-remote-code",
        "--metadata",
        "preset=guide",
        "kv_cache_tokens=715072",
        "--save-result",
        "--result-dir",
        RESULTS_MOUNT,
        "--result-filename",
        "TP8.json",
    ]


def test_tokenizer_is_passed_only_when_given() -> None:
    argv = bench_argv("http://h:1", "m", get_preset("small"), "r.json", tokenizer="/tokenizer")
    assert argv[6:8] == ["--tokenizer", "/tokenizer"]
    assert "--tokenizer" not in bench_argv("http://h:1", "m", get_preset("small"), "r.json")


def test_local_tokenizer_folder_is_mounted_read_only(tmp_path: Path) -> None:
    assert _tokenizer_mount(str(tmp_path)) == (
        TOKENIZER_MOUNT,
        {str(tmp_path.resolve()): {"bind": TOKENIZER_MOUNT, "mode": "ro"}},
    )
    assert _tokenizer_mount("moonshotai/Kimi-K2-Thinking") == ("moonshotai/Kimi-K2-Thinking", {})
    assert _tokenizer_mount(None) == (None, {})


@pytest.mark.parametrize(
    "label,model,stem",
    [
        ("TP8+DCP8", "kimi-k2-thinking", "TP8+DCP8-kimi-k2-thinking-20261129-081500"),
        (
            "guide",
            "moonshotai/Kimi-K2-Thinking",
            "guide-moonshotai_Kimi-K2-Thinking-20261129-081500",
        ),
        ("my run", "m", "my_run-m-20261129-081500"),
    ],
)
def test_result_file_names_are_safe_and_sortable(label: str, model: str, stem: str) -> None:
    assert result_stem(label, model, datetime(2026, 11, 29, 8, 15, 0)) == stem


def test_default_image_is_the_cpu_manifests(tmp_path: Path) -> None:
    manifest = json.loads(
        (Path(__file__).parents[1] / "fixtures" / "manifests" / "cpu-0.32.0.json").read_text()
    )
    (tmp_path / "cpu.json").write_text(json.dumps(manifest))
    assert default_image(tmp_path) == manifest["tags"][0]


def test_no_manifest_says_how_to_get_one(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError,
        match=r"cpu\.json: no image manifest; run `invoke build "
        r"--target cpu` first",
    ):
        default_image(tmp_path)


def test_first_request_error_is_the_tracebacks_last_line() -> None:
    """A real `vllm bench serve` log (0.32, cpu image) against a port where nothing listens."""
    log = Path(__file__).parent / "logs" / "bench-connection-refused.log"
    assert first_request_error(log) == (
        "aiohttp.client_exceptions.ClientConnectorError: Cannot connect to host 127.0.0.1:9 "
        "ssl:default [Connect call failed ('127.0.0.1', 9)]"
    )


@pytest.mark.parametrize(
    "text,expected",
    [
        ("Starting main benchmark run...\nError 0: Not Found\nError 1: Not Found\n", "Not Found"),
        ("Starting main benchmark run...\n", "the tool printed no request error"),
    ],
)
def test_first_request_error_without_a_traceback(tmp_path: Path, text: str, expected: str) -> None:
    log = tmp_path / "run.log"
    log.write_text(text)
    assert first_request_error(log) == expected
