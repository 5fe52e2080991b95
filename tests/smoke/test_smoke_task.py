"""`invoke smoke` as an operator runs it: exit codes and one clear line, never a traceback.

These need no vLLM: an unreachable port, a server that is slow to become healthy (a loopback
stdlib server), and mistakes on the command line. The task runs in a subprocess, as invoke would.
"""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from vllm_fleet.smoke import run_smoke

InvokeSmoke = Callable[..., subprocess.CompletedProcess]  # the `invoke_smoke` fixture


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def assert_one_clear_line(proc: subprocess.CompletedProcess, *needles: str) -> None:
    """Failed, no traceback, and exactly one `smoke: ...` line holding every needle."""
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = [line for line in proc.stderr.splitlines() if line.startswith("smoke: ")]
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_unreachable_port_is_one_clear_line(invoke_smoke: InvokeSmoke) -> None:
    port = closed_port()
    proc = invoke_smoke("--url", f"http://127.0.0.1:{port}", "--model", "kimi-tiny")
    assert_one_clear_line(
        proc, f"http://127.0.0.1:{port}/health", "connection refused", "--wait SECONDS"
    )


def test_wait_on_unreachable_port_times_out_clearly(invoke_smoke: InvokeSmoke) -> None:
    port = closed_port()
    started = time.monotonic()
    proc = invoke_smoke("--url", f"http://127.0.0.1:{port}", "--model", "m", "--wait", "2")
    assert_one_clear_line(proc, "not ready after waiting 2 s", "connection refused")
    assert "waiting up to 2 s" in proc.stderr
    assert time.monotonic() - started < 60


def test_unknown_check_and_missing_key_variable_are_refused(invoke_smoke: InvokeSmoke) -> None:
    proc = invoke_smoke("--url", "http://127.0.0.1:9", "--model", "m", "--only", "chatt")
    assert_one_clear_line(proc, "--only: unknown check 'chatt'", "tool_call")
    proc = invoke_smoke(
        "--url",
        "http://127.0.0.1:9",
        "--model",
        "m",
        "--api-key-env",
        "VLLM_FLEET_TEST_NO_SUCH_VAR",
    )
    assert_one_clear_line(proc, "--api-key-env VLLM_FLEET_TEST_NO_SUCH_VAR", "not set")


def test_bad_url_and_bad_case_file_are_refused(invoke_smoke: InvokeSmoke, tmp_path: Path) -> None:
    proc = invoke_smoke("--url", "127.0.0.1:8000", "--model", "m")
    assert_one_clear_line(proc, "not an http(s) URL")
    bad = tmp_path / "cases.yaml"
    bad.write_text("chat: {}\n")
    proc = invoke_smoke(
        "--url", f"http://127.0.0.1:{closed_port()}", "--model", "m", "--cases", str(bad)
    )
    assert_one_clear_line(proc, f"{bad}: reasoning: missing (required)")


class SlowStart(BaseHTTPRequestHandler):
    """/health: connection accepted but 503 for the first requests, then 200 (vLLM itself
    refuses connections until ready; a proxy in front answers 503)."""

    calls = 0

    def do_GET(self) -> None:
        type(self).calls += 1
        status = 200 if type(self).calls > 3 else 503
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def slow_server() -> Iterator[str]:
    SlowStart.calls = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), SlowStart)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_wait_polls_health_until_200_with_progress(slow_server: str) -> None:
    lines: list[str] = []
    report = run_smoke(slow_server, "m", only=["health"], wait=30, progress=lines.append)
    assert report.passed
    assert SlowStart.calls == 5  # 3 x 503, the 200 that ends the wait, the health check
    assert report.waited >= 2  # polled about once a second
    assert lines[0].startswith(f"waiting up to 30 s for {slow_server}/health")
    assert any(line.startswith("ready after") for line in lines)


def test_without_wait_a_503_is_a_failed_health_check_not_an_error(slow_server: str) -> None:
    report = run_smoke(slow_server, "m", only=["health"])
    assert not report.passed
    assert report.check("health").detail.startswith("503: ")
