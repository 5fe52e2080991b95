"""The accuracy gate on recorded lm-eval output (recorded/README.md says what each file is): the
arithmetic, pass and fail, the gates file's checks, and lm-eval's command line."""

from __future__ import annotations

import math
import re
import sys
from pathlib import Path

import pytest
import yaml

from vllm_fleet.bench.gate import (
    GATES_FILE,
    Baseline,
    Score,
    judge,
    load_gates,
    model_args_string,
    read_score,
)
from vllm_fleet.bench.lmeval import lm_eval_argv
from vllm_fleet.errors import ConfigError, ResultFileError, UnknownNameError

from .conftest import RECORDED_DIR, TINY_GATES, InvokeTask

SPEC = load_gates()


def test_gates_file_holds_the_guides_baselines() -> None:
    assert (SPEC.task, SPEC.num_fewshot, SPEC.result_key) == (
        "gsm8k",
        5,
        "exact_match,flexible-extract",
    )
    assert SPEC.baseline("latency") == Baseline("latency", "TP8", 0.9416, 0.0065)
    assert SPEC.baseline("throughput") == Baseline("throughput", "TP8+DCP8", 0.9386, 0.0066)


def test_recorded_scores_are_read_from_lm_evals_keys() -> None:
    score = read_score(RECORDED_DIR / "lm-eval-gsm8k-tp8-dcp8.json", SPEC)
    assert (score.value, score.stderr, score.num_fewshot, score.samples) == (
        0.9386,
        0.0066,
        5,
        1319,
    )


# (recorded file, profile, --max-stderr-drop, drop in standard errors, passes)
CASES = [
    ("lm-eval-gsm8k-tp8.json", "latency", 2.0, 0.0, True),
    # The guide's DCP step held to the TP8 baseline: 0.003 / sqrt(0.0065^2 + 0.0066^2).
    ("lm-eval-gsm8k-tp8-dcp8.json", "latency", 2.0, 0.3239, True),
    ("lm-eval-gsm8k-tp8-dcp8.json", "latency", 0.3, 0.3239, False),
    ("lm-eval-gsm8k-tp8-dcp8.json", "throughput", 0.0, 0.0, True),
    # Better than the baseline is never a failure, however strict the gate.
    ("lm-eval-gsm8k-tp8.json", "throughput", 0.0, -0.3239, True),
    ("lm-eval-gsm8k-regressed.json", "throughput", 2.0, 3.6401, False),
    ("lm-eval-gsm8k-regressed.json", "throughput", 4.0, 3.6401, True),
]


@pytest.mark.parametrize("name,profile,allowed,drop,passes", CASES)
def test_gate_on_recorded_output(
    name: str, profile: str, allowed: float, drop: float, passes: bool
) -> None:
    verdict = judge(read_score(RECORDED_DIR / name, SPEC), SPEC.baseline(profile), allowed)
    assert verdict.drop == pytest.approx(drop, abs=1e-4)
    assert verdict.passed is passes


def test_floor_is_the_lowest_passing_score() -> None:
    baseline = Baseline("throughput", "TP8+DCP8", 0.9386, 0.0066)
    verdict = judge(Score("gsm8k", 0.93, 0.0066, 5, 1319, "x"), baseline, 2.0)
    assert verdict.floor == pytest.approx(0.9386 - 2 * math.hypot(0.0066, 0.0066))
    at_floor = judge(Score("gsm8k", verdict.floor + 1e-12, 0.0066, 5, 1319, "x"), baseline, 2.0)
    below = judge(Score("gsm8k", verdict.floor - 1e-6, 0.0066, 5, 1319, "x"), baseline, 2.0)
    assert at_floor.passed and not below.passed


def test_message_gives_the_numbers() -> None:
    verdict = judge(
        read_score(RECORDED_DIR / "lm-eval-gsm8k-regressed.json", SPEC),
        SPEC.baseline("throughput"),
        2.0,
    )
    assert verdict.message() == (
        "accuracy gate FAILED: gsm8k 0.9000 ± 0.0083 vs throughput baseline (TP8+DCP8) "
        "0.9386 ± 0.0066: 3.64 standard errors below, allowed 2 (lowest passing score 0.9174)"
    )


def test_no_run_stderr_uses_the_baselines() -> None:
    """lm-eval writes "N/A" when it cannot estimate a standard error."""
    verdict = judge(Score("gsm8k", 0.92, None, 5, 1, "x"), SPEC.baseline("latency"), 2.0)
    assert verdict.combined_stderr == 0.0065
    assert verdict.notes and not verdict.passed


def test_no_noise_on_either_side_fails_any_fall() -> None:
    baseline = Baseline("p", "p", 0.75, 0.0)
    assert not judge(Score("t", 0.74, 0.0, 5, 4, "x"), baseline, 100.0).passed
    assert judge(Score("t", 0.75, 0.0, 5, 4, "x"), baseline, 0.0).passed


def test_a_run_with_other_shots_is_refused() -> None:
    """The tiny run is 2-shot; the guide's baselines are 5-shot: not comparable."""
    tiny = load_gates(TINY_GATES)
    spec = type(SPEC)(**{**SPEC.__dict__, "task": tiny.task})
    with pytest.raises(
        ResultFileError,
        match=r"n-shot\.gsm8k_tiny: the run is 2-shot, the "
        r"baseline 5-shot",
    ):
        read_score(RECORDED_DIR / "lm-eval-gsm8k_tiny.json", spec)


def test_a_run_of_another_task_is_refused() -> None:
    with pytest.raises(ResultFileError, match=r"results\.gsm8k: missing"):
        read_score(RECORDED_DIR / "lm-eval-gsm8k_tiny.json", SPEC)


def test_unknown_profile_lists_the_valid_ones() -> None:
    with pytest.raises(
        UnknownNameError, match="unknown profile 'fast'; valid: latency, throughput"
    ):
        SPEC.baseline("fast")


def _gates_with(tmp_path: Path, **changes: object) -> Path:
    data = yaml.safe_load(GATES_FILE.read_text())
    for dotted, value in changes.items():
        node = data
        *parents, last = dotted.split("__")
        for key in parents:
            node = node[key]
        if value is None:
            del node[last]
        else:
            node[last] = value
    path = tmp_path / "gates.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(
    "changes,problem",
    [
        ({"num_fewshot": "five"}, "num_fewshot: expected an integer, got str 'five'"),
        ({"profiles__latency__stderr": None}, "profiles.latency.stderr: missing (required)"),
        ({"profiles__latency__score": 94.16}, "profiles.latency: score must be within 0..1"),
        ({"model_args__base_url": "http://x"}, "model_args.base_url: 'http://x' is not allowed"),
        ({"model_args__stop": "a,b"}, "model_args.stop: 'a,b' is not allowed"),
        ({"max_stderr_drop": -1}, "max_stderr_drop: must be 0 or more"),
        ({"profiles": {}}, "profiles: no profile defined"),
        ({"treshold": 2}, "treshold: unknown key"),
    ],
)
def test_bad_gates_file_names_file_and_field(tmp_path: Path, changes: dict, problem: str) -> None:
    path = _gates_with(tmp_path, **changes)
    with pytest.raises(ConfigError, match=f"^{re.escape(f'{path}: {problem}')}"):
        load_gates(path)


def test_model_args_as_in_the_guide() -> None:
    assert model_args_string(
        "moonshotai/Kimi-K2-Thinking", "http://0.0.0.0:8000/v1/completions", SPEC.model_args
    ) == (
        "model=moonshotai/Kimi-K2-Thinking,base_url=http://0.0.0.0:8000/v1/completions,"
        "tokenized_requests=False,tokenizer_backend=None,num_concurrent=32,timeout=3000,"
        "max_retries=3"
    )


def test_lm_eval_command_line(tmp_path: Path) -> None:
    argv = lm_eval_argv("http://10.0.0.5:8000", "kimi-k2-thinking", SPEC, tmp_path, limit=50)
    assert argv[:4] == [sys.executable, "-m", "lm_eval", "run"]
    words = " ".join(argv[4:])
    assert words.startswith(
        "--model local-completions --model_args model=kimi-k2-thinking,"
        "base_url=http://10.0.0.5:8000/v1/completions,"
    )
    assert f"--tasks gsm8k --num_fewshot 5 --batch_size 1 --output_path {tmp_path}" in words
    assert words.endswith("--limit 50") and "--include_path" not in words


def test_tiny_gates_point_lm_eval_at_the_local_task() -> None:
    tiny = load_gates(TINY_GATES)
    assert tiny.include_path == (TINY_GATES.parent / "gsm8k_tiny").resolve()
    assert (tiny.include_path / "gsm8k_tiny.yaml").is_file()


@pytest.mark.parametrize(
    "name,profile,code",
    [
        ("lm-eval-gsm8k-tp8-dcp8.json", "throughput", 0),
        ("lm-eval-gsm8k-regressed.json", "throughput", 1),
    ],
)
def test_eval_task_exit_code_is_the_verdict(
    invoke_task: InvokeTask, name: str, profile: str, code: int
) -> None:
    proc = invoke_task("eval", "--results", str(RECORDED_DIR / name), "--profile", profile)
    assert proc.returncode == code, proc.stdout + proc.stderr
    output = proc.stdout if code == 0 else proc.stderr
    assert ("accuracy gate passed" if code == 0 else "eval: accuracy gate FAILED") in output


def test_eval_task_without_a_target(invoke_task: InvokeTask) -> None:
    proc = invoke_task("eval", "--profile", "latency")
    assert proc.returncode == 1
    assert (
        proc.stderr.strip() == "eval: pass --url and --model (or --results FILE to judge a "
        "past run)"
    )


def test_eval_task_refuses_a_bad_max_stderr_drop(invoke_task: InvokeTask) -> None:
    proc = invoke_task(
        "eval",
        "--results",
        str(RECORDED_DIR / "lm-eval-gsm8k-tp8.json"),
        "--max-stderr-drop",
        "two",
    )
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        "eval: --max-stderr-drop two: expected a number of standard errors, 0 or more (e.g. 2)"
    )
