"""The eval task: the guide's gsm8k run against an endpoint, gated on the profile's baseline.

lm-eval runs on this machine (vllm_fleet.bench.lmeval says why no container is needed).

    invoke eval --url http://10.0.0.5:8000 --model kimi-k2-thinking --profile throughput
    invoke eval --results eval-results/kimi/results_….json --profile latency   # re-judge a run
"""

from __future__ import annotations

import sys
from pathlib import Path

from invoke import Collection, Exit, task

from vllm_fleet.bench.gate import GATES_FILE, judge, load_gates, read_score
from vllm_fleet.bench.lmeval import run_lm_eval
from vllm_fleet.errors import FleetError
from vllm_fleet.serving.secretnames import required_secret
from vllm_fleet.tasks.options import number


@task(
    name="eval",
    default=True,
    help={
        "url": "The server's base URL, e.g. http://10.0.0.5:8000 (a trailing /v1 is fine).",
        "model": "The served model name (the unit's --served-model-name).",
        "profile": "The serving profile whose baseline the score must hold "
        "(benchmarks/eval-gates.yaml: latency = TP8, throughput = TP8+DCP8).",
        "max_stderr_drop": "Fail when the score is more than this many standard errors of the "
        "difference below the baseline (default: the gates file's, 2).",
        "out": "Folder for lm-eval's results JSON, per-question samples and console log.",
        "limit": "Evaluate only the first N questions: a quick look, a noisier score "
        "(default or 0: all).",
        "gates": f"Gates file instead of {GATES_FILE.name} (task, shots, baselines).",
        "results": "Judge this lm-eval results JSON instead of running lm-eval (no --url).",
        "api_key_env": "Name of the environment variable holding the server's API key (the "
        "key never goes on a command line; no other credential is passed).",
    },
)
def eval_(
    c,
    url=None,
    model=None,
    profile="latency",
    max_stderr_drop=None,
    out="eval-results",
    limit=None,
    gates=None,
    results=None,
    api_key_env=None,
):
    """Run gsm8k against an endpoint with lm-eval and gate on the profile's baseline.

    lm-eval's gsm8k 5-shot through `local-completions`, as in the usage guide; exits non-zero
    when the score fell more than --max-stderr-drop standard errors below the baseline. Running
    lm-eval needs the eval extra (pip install '.[eval]'); judging --results does not."""
    limit = (
        number("eval", "--limit", limit, unit="questions", whole=True, example="50")
        if limit is not None
        else 0
    )
    allowed_drop = (
        None
        if max_stderr_drop is None
        else number(
            "eval", "--max-stderr-drop", max_stderr_drop, unit="standard errors", example="2"
        )
    )
    try:
        spec = load_gates(Path(gates) if gates else GATES_FILE)
        baseline = spec.baseline(profile)
        if results:
            results_file = Path(results)
        elif url and model:
            api_key = required_secret(api_key_env, "--api-key-env") if api_key_env else None
            results_file = run_lm_eval(
                url,
                model,
                spec,
                Path(out),
                limit=limit or None,
                api_key=api_key,
                on_output=lambda line: print(line, file=sys.stderr),
            )
        else:
            raise Exit("eval: pass --url and --model (or --results FILE to judge a past run)")
        allowed = spec.max_stderr_drop if allowed_drop is None else allowed_drop
        verdict = judge(read_score(results_file, spec), baseline, allowed)
    except FleetError as err:
        raise Exit(f"eval: {err}") from None
    print(f"results: {results_file}")
    for note in verdict.notes:
        print(f"note: {note}")
    if not verdict.passed:
        raise Exit(f"eval: {verdict.message()}")
    print(verdict.message())


ns = Collection("eval", eval_)
