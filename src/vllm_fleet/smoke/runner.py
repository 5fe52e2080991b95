"""``run_smoke``: wait for an endpoint if asked, run the selected checks, return a SmokeReport.

This is what ``invoke smoke`` and the deploy's ready gate call. It raises (EndpointError and
friends, ConfigError for a bad case file, UnknownCheckError) only when no check can run at all;
everything else becomes a failed check with its reason, so one bad answer never hides the rest.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path

import httpx
import openai

from vllm_fleet.endpoint import base_url, excerpt, status_problem
from vllm_fleet.errors import (
    EndpointError,
    EndpointNotReadyError,
    EndpointUnreachableError,
    UnknownCheckError,
)
from vllm_fleet.smoke.cases import DEFAULT_CASES, SmokeCases, load_cases
from vllm_fleet.smoke.checks import CHECKS, Session, read_metrics
from vllm_fleet.smoke.judge import CheckFailed
from vllm_fleet.smoke.report import CheckResult, SmokeReport

CHECK_NAMES = tuple(CHECKS)
POLL_SECONDS = 1.0  # how often --wait asks /health
PROGRESS_EVERY = 10.0  # how often --wait says it is still waiting
DEFAULT_TIMEOUT = 300.0  # per request: a thinking model's 4096 tokens on a loaded server

Progress = Callable[[str], None]


def run_smoke(
    url: str,
    model: str,
    *,
    api_key: str | None = None,
    cases: SmokeCases | Path | str = DEFAULT_CASES,
    only: Iterable[str] | None = None,
    skip: Iterable[str] | None = None,
    wait: float = 0.0,
    timeout: float = DEFAULT_TIMEOUT,
    progress: Progress | None = None,
) -> SmokeReport:
    """Check a live OpenAI-compatible vLLM endpoint the way its clients use it.

    + url: the server's base, e.g. ``http://10.0.0.5:8000`` (a trailing ``/v1`` is accepted)
    + model: the served model name clients send (``--served-model-name``)
    + api_key: the key the server was started with (``--api-key``/``VLLM_API_KEY``), if any
    + cases: a smoke-case file (or loaded cases); default ``smoke/cases.yaml``
    + only / skip: check names to run / leave out (see CHECK_NAMES)
    + wait: seconds to wait for ``/health`` 200 first (0: a single try)
    + timeout: seconds per request
    + progress: called with one human line per event (waiting, each check's verdict)

    Raises EndpointUnreachableError when nothing answers (and ``wait`` is 0),
    EndpointNotReadyError when ``wait`` runs out, ConfigError for a bad case file.

    **Example:**

        report = run_smoke("http://127.0.0.1:8000", "kimi-k2-thinking", wait=1800)
        assert report.passed, [(c.name, c.detail) for c in report.failed]
    """
    names = select_checks(only, skip)
    loaded = cases if isinstance(cases, SmokeCases) else load_cases(cases)
    say = progress or (lambda _line: None)
    started = time.monotonic()
    session = Session(base_url(url), model, loaded, api_key, timeout)
    report = SmokeReport(url=session.url, model=model)
    try:
        report.waited = wait_until_ready(session, wait, say)
        if "metrics" in names:
            session.metrics_before = read_metrics(session)
        for name in names:
            result = run_check(name, session)
            verdict = "pass" if result.passed else f"FAIL: {result.detail}"
            say(f"{name}: {verdict} ({result.seconds:.2f} s)")
            report.checks.append(result)
    finally:
        session.close()
    report.server_version = session.server_version
    report.seconds = time.monotonic() - started
    return report


def select_checks(only: Iterable[str] | None, skip: Iterable[str] | None) -> list[str]:
    """The checks to run, in run order; UnknownCheckError names a misspelt one."""
    only_list, skip_list = list(only or []), list(skip or [])
    for option, given in (("--only", only_list), ("--skip", skip_list)):
        for name in given:
            if name not in CHECKS:
                raise UnknownCheckError(option, name, list(CHECK_NAMES))
    return [n for n in CHECK_NAMES if (not only_list or n in only_list) and n not in skip_list]


def run_check(name: str, session: Session) -> CheckResult:
    """Run one check; any failure, expected or not, becomes its detail."""
    started = time.perf_counter()
    try:
        detail, passed = CHECKS[name](session), True
    except CheckFailed as failed:
        detail, passed = str(failed), False
    except EndpointError as err:
        detail, passed = err.problem, False
    except openai.APIStatusError as err:
        detail, passed = _status_detail(err), False
    except openai.APITimeoutError:
        detail, passed = f"no answer within {session.timeout:g} s", False
    except openai.APIConnectionError as err:
        detail, passed = f"cannot connect: {excerpt(str(err.__cause__ or err))}", False
    except Exception as err:  # a check must never take the whole report down
        detail, passed = f"unexpected {type(err).__name__}: {excerpt(str(err))}", False
    return CheckResult(name, passed, detail, time.perf_counter() - started)


def wait_until_ready(session: Session, wait: float, say: Progress) -> float:
    """Poll ``/health`` until 200 or ``wait`` seconds pass; return the seconds waited.

    With ``wait`` 0 a single try: no answer at all raises EndpointUnreachableError, any answer
    (even 503) lets the checks run and report it. vLLM refuses connections until the model is
    loaded, then answers 200 (vllm/entrypoints/launchers/launcher.py create_server_socket binds the
    port early and serves only once the app starts), so polling is the readiness probe.
    """
    url = f"{session.url}/health"
    started = time.monotonic()
    if wait <= 0:
        try:
            session.get("/health", auth=False)
        except EndpointUnreachableError as err:
            raise EndpointUnreachableError(
                url, err.problem + " (--wait SECONDS waits for a server that is starting)"
            ) from None
        return 0.0
    last_said = started
    say(f"waiting up to {wait:g} s for {url} ...")
    while True:
        ready, last_seen = _health_state(session)
        elapsed = time.monotonic() - started
        if ready:
            say(f"ready after {elapsed:.1f} s")
            return elapsed
        if elapsed >= wait:
            raise EndpointNotReadyError(url, elapsed, last_seen)
        if time.monotonic() - last_said >= PROGRESS_EVERY:
            say(f"still waiting ({elapsed:.0f} of {wait:g} s): {last_seen}")
            last_said = time.monotonic()
        time.sleep(min(POLL_SECONDS, max(0.0, wait - elapsed)))


def _health_state(session: Session) -> tuple[bool, str]:
    """(ready, what was seen): ready only on 200."""
    try:
        response = session.get("/health", auth=False)
    except EndpointUnreachableError as err:
        return False, err.problem
    return response.status_code == 200, f"/health answered {response.status_code}"


def _status_detail(err: openai.APIStatusError) -> str:
    response: httpx.Response = err.response
    return status_problem(response.status_code, response.text)
