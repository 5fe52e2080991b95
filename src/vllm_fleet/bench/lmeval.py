"""Run lm-eval (EleutherAI's lm-evaluation-harness) against an endpoint, as the usage guide did.

Where it runs: on the controller, in vllm-fleet's own virtualenv, as a child process
(``python -m lm_eval run``). lm_eval 0.4.13's hard dependencies (datasets, evaluate,
scikit-learn, sacrebleu, ...) and its ``api`` extra (aiohttp, requests, tenacity, tiktoken) do
not include torch (torch is only in its ``hf``/``vllm`` extras), and the ``local-completions``
client with ``tokenized_requests=False,tokenizer_backend=None`` loads no tokenizer: it sends raw
prompts to ``/v1/completions``. So no CUDA torch, no model code, no container is needed; a
container (the serving image plus lm-eval) would add a 2.7 GB image layer and a Docker round trip
for nothing. A child process, not the Python API, keeps lm-eval's logging, argument handling and
memory out of the task and makes its results JSON the one interface, the same file the gate's
tests read.

gsm8k's data comes from the Hugging Face hub (``openai/gsm8k``) on first use; a task folder of
your own (a task YAML and local data files) is used with ``include_path`` in the gates file, and
lm-eval runs inside that folder so the YAML's relative ``data_files`` resolve there.

    spec = load_gates()
    results = run_lm_eval("http://10.0.0.5:8000", "kimi-k2-thinking", spec, Path("eval"))
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from vllm_fleet.bench.gate import GateSpec, model_args_string
from vllm_fleet.bench.logtail import log_tail
from vllm_fleet.endpoint import base_url
from vllm_fleet.errors import ToolRunError
from vllm_fleet.extras import require
from vllm_fleet.paths import output_folder
from vllm_fleet.serving.carriers import without_credentials

TOOL = "lm-eval"
LOG_NAME = "lm-eval.log"
# lm-eval's local-completions client sends this variable as its bearer token (lm_eval
# models/openai_completions.py, LocalCompletionsAPI.api_key).
LM_EVAL_KEY_ENV = "OPENAI_API_KEY"


def lm_eval_argv(
    url: str, model: str, spec: GateSpec, output_path: Path, limit: int | None = None
) -> list[str]:
    """The lm-eval command line for ``spec`` against the server at ``url`` (a base URL)."""
    argv = [
        sys.executable,
        "-m",
        "lm_eval",
        "run",
        "--model",
        "local-completions",
        "--model_args",
        model_args_string(model, f"{url}/v1/completions", spec.model_args),
        "--tasks",
        spec.task,
        "--num_fewshot",
        str(spec.num_fewshot),
        "--batch_size",
        "1",
        "--output_path",
        str(output_path),
        "--log_samples",
    ]
    if spec.include_path:
        argv += ["--include_path", str(spec.include_path)]
    limit = limit if limit is not None else spec.limit
    if limit is not None:
        argv += ["--limit", str(limit)]
    return argv


def run_lm_eval(
    url: str,
    model: str,
    spec: GateSpec,
    out_dir: Path,
    *,
    limit: int | None = None,
    api_key: str | None = None,
    on_output: Callable[[str], None] | None = None,
) -> Path:
    """Evaluate the endpoint; return the results JSON lm-eval wrote under ``out_dir``.

    + url: the server's base URL (``http://HOST:PORT``; a trailing /v1 is fine)
    + model: the served model name
    + limit: evaluate only the first N questions (a quick look; the score is then noisier)
    + api_key: the server's API key; lm-eval's OpenAI-style client sends OPENAI_API_KEY, which
      is set to this and nothing else (no credential of this machine's environment is passed)
    + on_output: called with each line lm-eval prints (its log, progress and results table)

    The full console output is kept in ``out_dir/lm-eval.log``. Raises MissingExtraError when
    lm-eval is not installed (the eval extra), ToolRunError with its last lines if lm-eval fails
    or writes no results.
    """
    require("eval")
    out_dir = output_folder(out_dir, "--out")
    argv = lm_eval_argv(base_url(url), model, spec, out_dir, limit)
    started = time.time()
    log_file = out_dir / LOG_NAME
    returncode = _run(
        argv, spec.include_path or out_dir, log_file, on_output, lm_eval_env(os.environ, api_key)
    )
    if returncode != 0:
        raise ToolRunError(
            TOOL, f"exited {returncode} (full output: {log_file})", log_tail(log_file)
        )
    return newest_results(out_dir, since=started, log_file=log_file)


def newest_results(out_dir: Path, since: float = 0.0, log_file: Path | None = None) -> Path:
    """lm-eval writes ``<out>/<model>/results_<date>.json``; the newest one written since
    ``since`` is this run's."""
    found = [path for path in out_dir.rglob("results_*.json") if path.stat().st_mtime >= since]
    if not found:
        raise ToolRunError(
            TOOL,
            f"finished but wrote no results_*.json under {out_dir}",
            log_tail(log_file) if log_file else [],
        )
    return max(found, key=lambda path: path.stat().st_mtime)


def lm_eval_env(environ: Mapping[str, str], api_key: str | None) -> dict[str, str]:
    """lm-eval's environment: this machine's minus every credential, plus the key if given."""
    env = without_credentials(dict(environ))
    if api_key:
        env[LM_EVAL_KEY_ENV] = api_key
    return env


def _run(
    argv: list[str],
    cwd: Path,
    log_file: Path,
    on_output: Callable[[str], None] | None,
    env: dict[str, str],
) -> int:
    """Run lm-eval, copying its output to ``log_file`` and ``on_output`` line by line. No time
    limit: a full gsm8k run takes as long as the server needs (Ctrl-C stops both)."""
    try:
        with (
            log_file.open("w") as log,
            subprocess.Popen(
                argv,
                cwd=cwd,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                errors="replace",
                bufsize=1,
            ) as proc,
        ):
            for line in proc.stdout or []:
                log.write(line)
                if on_output:
                    on_output(line.rstrip("\n"))
            return proc.wait()
    except OSError as err:
        raise ToolRunError(
            TOOL,
            f"could not start `{' '.join(argv[:3])}` ({err.strerror}); "
            "is this Python's venv intact?",
        ) from None
