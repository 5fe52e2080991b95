"""`invoke eval` for real: lm-eval (local-completions, the guide's model_args) against the CPU
tiny-model server on the local gsm8k-format task (gsm8k_tiny/), gated with tiny-gates.yaml.
Slow tier: needs Docker, the cpu image and a running server."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from .conftest import TINY_GATES, run_task

pytestmark = pytest.mark.slow

# Nothing of lm-eval's may reach for the hub: the task's data is local.
OFFLINE = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}


@pytest.fixture(scope="module")
def evaluated(kimi_tiny_server, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("eval")
    started = time.monotonic()
    proc = run_task(
        "eval",
        "--url",
        kimi_tiny_server.url,
        "--model",
        "kimi-tiny",
        "--profile",
        "cpu",
        "--gates",
        str(TINY_GATES),
        "--out",
        str(out),
        env=OFFLINE,
    )
    print(f"\nlm-eval on the tiny task: {time.monotonic() - started:.1f} s")
    return out, proc


def results_file(out: Path) -> Path:
    found = list(out.rglob("results_*.json"))
    assert len(found) == 1, found
    return found[0]


def test_lm_eval_scores_the_tiny_task_and_the_gate_passes(evaluated) -> None:
    out, proc = evaluated
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (
        "accuracy gate passed: gsm8k_tiny 0.7500 ± 0.2500 vs cpu baseline (kimi-tiny) "
        "0.7500 ± 0.2500"
    ) in proc.stdout
    data = json.loads(results_file(out).read_text())
    assert data["results"]["gsm8k_tiny"]["exact_match,strict-match"] == 0.0
    assert data["n-samples"]["gsm8k_tiny"]["effective"] == 4
    assert data["config"]["model_args"]["tokenizer_backend"] is None
    assert "|gsm8k_tiny|" in (out / "lm-eval.log").read_text()  # lm-eval's own table, kept


def test_every_question_was_asked_of_the_server(evaluated) -> None:
    """The per-question samples show the server's own answers, not an lm-eval fallback."""
    out, _ = evaluated
    samples = [json.loads(line) for line in next(out.rglob("samples_*.jsonl")).open()]
    answers = {
        s["doc"]["question"]: s["resps"][0][0] for s in samples if s["filter"] == "flexible-extract"
    }
    assert len(answers) == 4
    assert all(answer.strip().endswith("4.") for answer in answers.values())


def test_the_same_run_fails_a_higher_baseline(evaluated) -> None:
    out, _ = evaluated
    proc = run_task(
        "eval",
        "--results",
        str(results_file(out)),
        "--profile",
        "perfect",
        "--max-stderr-drop",
        "0.5",
        "--gates",
        str(TINY_GATES),
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().startswith(
        "eval: accuracy gate FAILED: gsm8k_tiny 0.7500 ± 0.2500 vs perfect baseline"
    )
    assert "1.00 standard errors below, allowed 0.5" in proc.stderr
