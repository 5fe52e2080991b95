"""The smoke suite against real vLLM (the cpu image) serving the Kimi-format tiny model.

Every check passes against a correctly started server, and each misconfiguration fails the
check a client would trip over, for the reason it names: no parsers, the wrong tool parser, the
wrong served name, an API key required but not given (and given). The unreachable port is in
test_smoke_task.py (no server needed).
"""

from __future__ import annotations

import json
import secrets
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from vllm_fixtures import (
    BASE_ARGS,
    GOOD_SERVER_ARGS,
    SERVED_NAME,
    START_TIMEOUT,
    StartServer,
    VllmServer,
)
from vllm_fleet.smoke import CHECK_NAMES, SmokeReport, run_smoke

pytestmark = pytest.mark.slow
InvokeSmoke = Callable[..., subprocess.CompletedProcess]  # the `invoke_smoke` fixture
API_KEY = secrets.token_hex(16)  # per run; never in the repository
KEY_VAR = "VLLM_FLEET_TEST_API_KEY"
WRONG_TOOL_PARSER = (
    "--enable-auto-tool-choice",
    "--tool-call-parser",
    "hermes",
    "--reasoning-parser",
    "kimi_k2",
)


def failures(report: SmokeReport) -> dict[str, str]:
    return {check.name: check.detail for check in report.failed}


# ---- the good server ----


def test_every_check_passes(kimi_tiny_server: VllmServer) -> None:
    report = run_smoke(kimi_tiny_server.url, SERVED_NAME)
    assert [check.name for check in report.checks] == list(CHECK_NAMES)
    assert report.passed, failures(report)
    assert report.server_version  # what /version said
    assert "tool_calls" not in report.check("chat").detail
    assert "get_weather(" in report.check("tool_call").detail
    assert "finish 'tool_calls', [DONE] seen" in report.check("tool_call_stream").detail
    assert "generation_tokens +" in report.check("metrics").detail


def test_task_exits_0_and_writes_json_and_junit(
    kimi_tiny_server: VllmServer, invoke_smoke: InvokeSmoke, tmp_path: Path
) -> None:
    proc = invoke_smoke(
        "--url",
        kimi_tiny_server.url,
        "--model",
        SERVED_NAME,
        "--json",
        str(tmp_path / "r.json"),
        "--junit",
        str(tmp_path / "r.xml"),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "all passed" in proc.stdout
    data = json.loads((tmp_path / "r.json").read_text())
    assert list(data["checks"]) == list(CHECK_NAMES)
    assert all(check["passed"] for check in data["checks"].values())
    suite = ET.parse(tmp_path / "r.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "0"
    assert suite.get("tests") == str(len(CHECK_NAMES))


def test_wrong_served_name_fails_models(
    kimi_tiny_server: VllmServer, invoke_smoke: InvokeSmoke
) -> None:
    report = run_smoke(kimi_tiny_server.url, "kimi-k2-thinking")
    failed = failures(report)
    assert failed["models"] == (
        "'kimi-k2-thinking' is not served here; the server lists: "
        f"{SERVED_NAME} (fix --model, or the service's "
        "--served-model-name)"
    )
    assert failed["chat"].startswith("404: ") and "does not exist" in failed["chat"]
    assert report.check("health").passed
    proc = invoke_smoke("--url", kimi_tiny_server.url, "--model", "kimi-k2-thinking")
    assert proc.returncode == 1
    assert "checks failed: models, chat" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_only_and_skip_select_checks(kimi_tiny_server: VllmServer) -> None:
    only = run_smoke(kimi_tiny_server.url, SERVED_NAME, only=["metrics", "chat"])
    assert [c.name for c in only.checks] == ["chat", "metrics"]  # run order, not option order
    assert only.passed, failures(only)
    assert "generation_tokens +" in only.check("metrics").detail  # chat's tokens were counted
    skipped = run_smoke(kimi_tiny_server.url, SERVED_NAME, skip=["tool_call", "stream"])
    assert [c.name for c in skipped.checks] == [
        n for n in CHECK_NAMES if n not in ("tool_call", "stream")
    ]


# ---- misconfigured servers (started together: one start-up wait for both) ----


@pytest.fixture(scope="module")
def misconfigured(vllm_server: StartServer) -> Iterator[dict[str, VllmServer]]:
    servers = {
        "bare": vllm_server(BASE_ARGS, ready=False),
        "wrong_tool_parser": vllm_server(BASE_ARGS + WRONG_TOOL_PARSER, ready=False),
    }
    try:
        for server in servers.values():
            server.wait_ready()
        yield servers
    finally:
        for server in servers.values():
            server.stop()


def test_without_parsers_tool_call_and_reasoning_fail_naming_why(
    misconfigured: dict[str, VllmServer],
) -> None:
    report = run_smoke(misconfigured["bare"].url, SERVED_NAME)
    failed = failures(report)
    assert set(failed) == {"reasoning", "tool_call", "tool_call_stream"}, failed
    assert failed["tool_call"] == (
        '400: "auto" tool choice requires --enable-auto-tool-choice '
        "and --tool-call-parser to be set"
    )
    assert failed["tool_call_stream"].startswith("400: ")
    assert "--enable-auto-tool-choice" in failed["tool_call_stream"]
    assert failed["reasoning"].startswith(
        "no reasoning field; the thinking is left in content: '<think>"
    )
    assert failed["reasoning"].endswith("(start vLLM with --reasoning-parser kimi_k2)")


def test_wrong_tool_parser_leaves_the_call_in_content(misconfigured: dict[str, VllmServer]) -> None:
    report = run_smoke(misconfigured["wrong_tool_parser"].url, SERVED_NAME)
    failed = failures(report)
    assert set(failed) == {"tool_call", "tool_call_stream"}, failed
    assert failed["tool_call"].startswith(
        "tool call left in content: '<|tool_calls_section_begin|><|tool_call_begin|>"
        "functions.get_weather:0"
    )
    assert "--tool-call-parser kimi_k2" in failed["tool_call"]
    assert failed["tool_call_stream"].startswith("streamed: tool call left in content: ")
    assert "--tool-call-parser kimi_k2" in failed["tool_call_stream"]


# ---- a server that requires an API key ----


@pytest.fixture(scope="module")
def keyed_server(vllm_server: StartServer) -> Iterator[VllmServer]:
    """The good server with a key (through the environment, as the deploy passes it), returned
    while it is still starting: the first test waits for it with --wait."""
    server = vllm_server(GOOD_SERVER_ARGS, env={"VLLM_API_KEY": API_KEY}, ready=False)
    yield server
    server.stop()


def test_wait_for_a_starting_server_then_everything_passes_with_the_key(
    keyed_server: VllmServer,
) -> None:
    lines: list[str] = []
    report = run_smoke(
        keyed_server.url, SERVED_NAME, api_key=API_KEY, wait=START_TIMEOUT, progress=lines.append
    )
    assert report.passed, failures(report)
    assert report.waited > 1  # it really was starting
    assert lines[0].startswith(f"waiting up to {START_TIMEOUT:g} s for {keyed_server.url}/health")
    assert any(line.startswith("ready after ") for line in lines)
    assert report.check("auth").detail == "without the key: 401; with it: 200"


def test_key_required_but_not_given(keyed_server: VllmServer) -> None:
    report = run_smoke(keyed_server.url, SERVED_NAME, wait=START_TIMEOUT)
    failed = failures(report)
    assert failed["auth"] == (
        "the server requires an API key (401) but none was given: pass --api-key-env VAR"
    )
    assert failed["chat"].startswith("401: ")
    assert failed["chat"].endswith("(the server requires an API key: pass --api-key-env VAR)")
    assert {"health", "version", "metrics"}.isdisjoint(failed)  # those paths stay open


def test_wrong_key_is_named(keyed_server: VllmServer) -> None:
    report = run_smoke(
        keyed_server.url, SERVED_NAME, api_key="not-the-key", wait=START_TIMEOUT, only=["auth"]
    )
    assert failures(report) == {"auth": "the configured API key is refused (401): wrong key?"}


def test_task_reads_the_key_from_the_environment_and_never_prints_it(
    keyed_server: VllmServer, invoke_smoke: InvokeSmoke
) -> None:
    proc = invoke_smoke(
        "--url",
        keyed_server.url,
        "--model",
        SERVED_NAME,
        "--api-key-env",
        KEY_VAR,
        "--wait",
        str(START_TIMEOUT),
        env={KEY_VAR: API_KEY},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert API_KEY not in proc.stdout + proc.stderr
