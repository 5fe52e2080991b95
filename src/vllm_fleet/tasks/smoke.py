"""Smoke task: check a live endpoint the way its clients use it. Thin: parse, call, print.

invoke smoke --url http://10.0.0.5:8000 --model kimi-k2-thinking --api-key-env VLLM_API_KEY
invoke smoke --url http://127.0.0.1:8000 --model kimi-tiny --wait 120 --junit smoke.xml
"""

from __future__ import annotations

import sys

from invoke import Collection, Exit, task
from rich.console import Console

from vllm_fleet.errors import FleetError
from vllm_fleet.serving.secretnames import required_secret
from vllm_fleet.smoke import CHECK_NAMES, DEFAULT_CASES, run_smoke
from vllm_fleet.smoke.runner import DEFAULT_TIMEOUT
from vllm_fleet.tasks.options import number

_CHECKS = ", ".join(CHECK_NAMES)


@task(
    iterable=["only", "skip"],
    help={
        "url": "The server's base URL, e.g. http://10.0.0.5:8000 (a trailing /v1 is fine).",
        "model": "The served model name clients send (the unit's --served-model-name).",
        "api_key_env": "Name of the environment variable holding the server's API key "
        "(the key itself never goes on a command line).",
        "wait": "Seconds to wait for /health 200 first, with progress (0: try once).",
        "json": "Write the report as JSON to this file (every check: passed, detail, seconds).",
        "junit": "Write the report as JUnit XML to this file (CI, cron monitors).",
        "only": f"Run only this check (repeatable): {_CHECKS}.",
        "skip": f"Leave out this check (repeatable): {_CHECKS}.",
        "cases": "Smoke-case file instead of the repository's smoke/cases.yaml"
        " (prompts and tools the checks send).",
        "timeout": "Seconds per request (a thinking model's long answer included; default "
        f"{DEFAULT_TIMEOUT:g}).",
    },
)
def smoke(
    c,
    url,
    model,
    api_key_env=None,
    wait=None,
    json=None,
    junit=None,
    only=None,
    skip=None,
    cases=None,
    timeout=None,
):
    """Check a live vLLM endpoint: health, version, models, chat, stream, reasoning, tool calls,
    metrics, auth. Exits 0 only if every selected check passed."""
    err = Console(stderr=True, highlight=False)
    api_key = _api_key(api_key_env)
    # None defaults: invoke would cast a float default itself and fail with a traceback.
    wait = number("smoke", "--wait", wait or 0, unit="seconds", example="120")
    timeout = number(
        "smoke", "--timeout", timeout or DEFAULT_TIMEOUT, unit="seconds", minimum=1, example="300"
    )
    try:
        report = run_smoke(
            url,
            model,
            api_key=api_key,
            cases=cases or DEFAULT_CASES,
            only=only,
            skip=skip,
            wait=wait,
            timeout=timeout,
            progress=lambda line: err.print(line, markup=False, soft_wrap=True),
        )
    except FleetError as error:
        raise Exit(f"smoke: {error}") from None
    Console(highlight=False).print(report.table())
    for path, write in ((json, report.write_json), (junit, report.write_junit)):
        if path:
            try:
                write(path)
            except OSError as error:
                raise Exit(f"smoke: cannot write {path}: {error.strerror}") from None
    if not report.passed:
        names = ", ".join(check.name for check in report.failed) or "no check ran"
        raise Exit(f"smoke: {len(report.failed)} of {len(report.checks)} checks failed: {names}")
    sys.stdout.flush()


def _api_key(env_name: str | None) -> str | None:
    """The key from the named variable; a named but empty variable is an error, not 'no key'."""
    if not env_name:
        return None
    try:
        return required_secret(env_name, "--api-key-env")
    except FleetError as err:
        raise Exit(f"smoke: {err}") from None


ns = Collection(smoke)
