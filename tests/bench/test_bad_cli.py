"""Bad command lines and result files, as an operator in a hurry gives them (issue 11): every
task prints its help for --help, numeric options fail in one line, output goes only where the
operator said, unlike runs are not compared, and no NaN is printed."""

from __future__ import annotations

import json
import math
import os
import subprocess
from pathlib import Path

import pytest

from vllm_fleet.bench.lmeval import lm_eval_env
from vllm_fleet.paths import REPO_ROOT

from .conftest import InvokeTask

# Every task `invoke --list` shows (tasks.py wires them), including the ones with positional
# arguments, which invoke 3.0.3 used to run with "--help" as their value.
TASKS = [
    "base-image",
    "build",
    "demo",
    "lint",
    "plan",
    "push",
    "render",
    "smoke",
    "bench",
    "bench.compare",
    "eval",
    "sandbox.down",
    "sandbox.up",
    "status",
    "rollout",
    "rollback",
]


def _invoke(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`invoke ARGS` in this process (tasks.py's namespace, invoke's own Program): what an
    operator sees, without a Python start per case."""
    import contextlib
    import importlib.util
    import io

    from invoke import Program

    spec = importlib.util.spec_from_file_location("fleet_tasks", REPO_ROOT / "tasks.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out, err = io.StringIO(), io.StringIO()
    code = 0
    saved = dict(os.environ)
    os.environ.update(env or {})
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            Program(namespace=module.ns, name="invoke", binary="inv[oke]").run(
                ["invoke", *args], exit=True
            )
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def test_the_list_of_tasks_is_complete() -> None:
    listed = [
        line.split()[0]
        for line in _invoke("--list").stdout.splitlines()
        if line.startswith("  ") and not line.startswith("   ")
    ]
    names = {name.split(".")[0] if name.endswith((".bench", ".eval")) else name for name in listed}
    assert names == set(TASKS)


@pytest.mark.parametrize("task", TASKS)
def test_help_after_a_task_prints_its_help_and_runs_nothing(task: str) -> None:
    proc = _invoke(task, "--help")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("Usage: inv[oke] [--core-opts] ")
    assert proc.stderr == ""


# (arguments, the exact one-line error)
BAD_OPTIONS = [
    (
        ["smoke", "--url", "http://127.0.0.1:9", "--model", "m", "--wait", "abc"],
        "smoke: --wait abc: expected a number of seconds, 0 or more (e.g. 120)",
    ),
    (
        ["smoke", "--url", "http://127.0.0.1:9", "--model", "m", "--wait", "nan"],
        "smoke: --wait nan: expected a number of seconds, 0 or more (e.g. 120)",
    ),
    (
        ["smoke", "--url", "http://127.0.0.1:9", "--model", "m", "--timeout", "x"],
        "smoke: --timeout x: expected a number of seconds, 1 or more (e.g. 300)",
    ),
    (
        ["smoke", "--url", "http://127.0.0.1:9", "--model", "m", "--timeout", "0"],
        "smoke: --timeout 0: expected a number of seconds, 1 or more (e.g. 300)",
    ),
    (
        ["eval", "--url", "http://127.0.0.1:9", "--model", "m", "--limit", "abc"],
        "eval: --limit abc: expected a whole number of questions, 0 or more (e.g. 50)",
    ),
    (
        ["eval", "--url", "http://127.0.0.1:9", "--model", "m", "--limit", "2.5"],
        "eval: --limit 2.5: expected a whole number of questions, 0 or more (e.g. 50)",
    ),
    (
        ["smoke", "--url", "http://127.0.0.1:9", "--model", "m", "--api-key-env", "EMPTY_KEY"],
        "smoke: EMPTY_KEY is set but empty on this machine; an empty value is not 'no secret': "
        "export the real value, or `unset EMPTY_KEY` to deploy without one",
    ),
    (
        ["eval", "--url", "http://127.0.0.1:9", "--model", "m", "--api-key-env", "NO_SUCH_KEY"],
        "eval: --api-key-env NO_SUCH_KEY: that environment variable is not set (export it, or drop "
        "--api-key-env for a server started without a key)",
    ),
    (
        ["bench", "--url", "http://127.0.0.1:9", "--model", "m", "--api-key-env", "NO_SUCH_KEY"],
        "bench: --api-key-env NO_SUCH_KEY: that environment variable is not set (export it, or "
        "drop --api-key-env for a server started without a key)",
    ),
]


@pytest.mark.parametrize(
    ("args", "message"), BAD_OPTIONS, ids=[" ".join(a[:1] + a[-2:]) for a, _ in BAD_OPTIONS]
)
def test_bad_options_fail_in_one_line(args: list[str], message: str) -> None:
    proc = _invoke(*args, env={"EMPTY_KEY": ""})
    assert proc.returncode == 1
    assert proc.stderr.strip() == message


def _result(folder: Path, name: str, **changes: object) -> Path:
    data = {
        "model_id": "kimi",
        "preset": "guide",
        "num_prompts": 1000,
        "request_rate": 100.0,
        "completed": 10,
        "failed": 0,
        "duration": 10.0,
        "request_throughput": 1.0,
        "output_throughput": 100.0,
        "mean_ttft_ms": 500.0,
        "median_ttft_ms": 400.0,
        **changes,
    }
    path = folder / f"{name}.json"
    path.write_text(json.dumps(data))  # json writes NaN as NaN, as Python's own files can hold
    return path


UNLIKE = [
    ({"model_id": "llama"}, "model_id: 'kimi' vs 'llama'"),
    ({"preset": "small"}, "preset: 'guide' vs 'small'"),
    (
        {"num_prompts": 10, "request_rate": 1.0},
        "num_prompts: 1000 vs 10; request_rate: 100.0 vs 1.0",
    ),
]


@pytest.mark.parametrize(("changes", "difference"), UNLIKE, ids=["model", "preset", "load"])
def test_unlike_runs_are_not_compared_unless_forced(
    changes: dict, difference: str, tmp_path: Path, invoke_task: InvokeTask
) -> None:
    a, b = _result(tmp_path, "a"), _result(tmp_path, "b", **changes)
    proc = invoke_task("bench.compare", str(a), str(b))
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        f"bench.compare: {a} and {b} are not runs of the same model "
        f"and workload ({difference}), so their gain means nothing; "
        "pass --force to compare them anyway"
    )
    forced = invoke_task("bench.compare", str(a), str(b), "--force")
    assert forced.returncode == 0, forced.stderr


def test_a_zero_throughput_shows_no_nan(tmp_path: Path, invoke_task: InvokeTask) -> None:
    a, b = _result(tmp_path, "a", request_throughput=0), _result(tmp_path, "b")
    proc = invoke_task("bench.compare", str(a), str(b))
    assert proc.returncode == 0, proc.stderr
    assert "| Request Throughput(req/s) | 0.00 | 1.00 | +1.00 | n/a (A is 0) |" in proc.stdout
    assert "nan" not in proc.stdout.lower()


def test_a_nan_in_a_result_file_is_named(tmp_path: Path, invoke_task: InvokeTask) -> None:
    a, b = _result(tmp_path, "a", mean_ttft_ms=math.nan), _result(tmp_path, "b")
    proc = invoke_task("bench.compare", str(a), str(b))
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        f"bench.compare: {a}: mean_ttft_ms: nan is not a finite number; the run did not measure it"
    )


def test_a_chart_into_a_missing_folder_creates_nothing(
    tmp_path: Path, invoke_task: InvokeTask
) -> None:
    a, b = _result(tmp_path, "a"), _result(tmp_path, "b")
    chart = tmp_path / "no" / "such" / "gain.png"
    proc = invoke_task("bench.compare", str(a), str(b), "--chart", str(chart))
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        f"bench.compare: --chart {chart}: folder {chart.parent} does "
        "not exist; create it first, or name a file in an existing "
        "folder"
    )
    assert not (tmp_path / "no").exists()


def test_lm_eval_gets_no_credential_of_the_controller() -> None:
    environ = {
        "PATH": "/usr/bin",
        "OPENAI_API_KEY": "sk-controller",
        "HF_TOKEN": "hf_x",
        "HUGGING_FACE_HUB_TOKEN": "hf_y",
        "AWS_SECRET_ACCESS_KEY": "a",
        "LANG": "C",
    }
    assert lm_eval_env(environ, None) == {"PATH": "/usr/bin", "LANG": "C"}
    assert lm_eval_env(environ, "the-key") == {
        "PATH": "/usr/bin",
        "LANG": "C",
        "OPENAI_API_KEY": "the-key",
    }


@pytest.mark.parametrize(
    ("text", "unreachable"),
    [
        ("OSError: We couldn't connect to 'https://huggingface.co' to load the files", True),
        (
            "OSError: kimi-tiny is not a local folder and is not a valid model identifier "
            "listed on "
            "'https://huggingface.co/models'",
            True,
        ),
        ("aiohttp.client_exceptions.ClientConnectorError: Cannot connect to host", False),
    ],
)
def test_a_missing_tokenizer_is_told_apart(text: str, unreachable: bool) -> None:
    from vllm_fleet.bench.runner import tokenizer_unreachable

    assert tokenizer_unreachable(text) is unreachable
