"""Faults on the sandbox host and how the service comes back: the vLLM server killed (SIGKILL),
frozen so /health hangs (SIGSTOP), and restarted by systemd while completions stream.

The sandbox host is a container on this machine (vllm_fleet.local.sandbox); commands reach it with
`docker exec`, and the server runs in the unit's own container inside it (`docker run --init`:
the server is the only child of the container's init).
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from dataclasses import dataclass, field

import httpx

from vllm_fleet.deploy.facts import UnitState
from vllm_fleet.local.sandbox import SandboxHost

# Faults are made on sandbox host 1, the host the single-host deploy tests use.
SANDBOX = SandboxHost(1).container
URL = SandboxHost(1).url
UNIT = "vllm-serve.service"


def on_host(script: str) -> str:
    """Run ``script`` with sh on the sandbox host; its stdout."""
    result = subprocess.run(
        ["docker", "exec", SANDBOX, "sh", "-c", script],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return result.stdout.strip()


def server_pid(container: str = "vllm-serve") -> int:
    """The vLLM API server's pid on the sandbox host: the child of the container's init."""
    init = on_host(f"docker inspect --format '{{{{.State.Pid}}}}' {container}")
    return int(on_host(f"pgrep -P {init} | head -n 1"))


def unit_state() -> dict[str, str]:
    """The unit's state, read by the deploy's own fact (its command and its parser)."""
    fact = UnitState()
    return fact.process(on_host(fact.command(UNIT)).splitlines())


def healthy(timeout: float = 2) -> bool:
    try:
        return httpx.get(f"{URL}/health", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def wait_healthy(limit_s: float) -> float:
    """Seconds until /health answers 200; TimeoutError after ``limit_s``."""
    started = time.monotonic()
    while time.monotonic() - started < limit_s:
        if healthy():
            return time.monotonic() - started
        time.sleep(0.5)
    raise TimeoutError(f"{URL}/health not healthy within {limit_s:.0f} s")


def recovery_after_signal(signal: str, limit_s: float = 600) -> dict:
    """Send ``signal`` (KILL or STOP) to the server; time until it is down, then healthy again,
    and how many restarts systemd counted."""
    wait_watchdog_armed(limit_s)
    before = int(unit_state().get("NRestarts", 0))
    pid = server_pid()
    run = invocation()
    sent = time.monotonic()
    on_host(f"kill -{signal} {pid}")
    while healthy(timeout=1) and time.monotonic() - sent < limit_s:
        time.sleep(0.2)  # SIGKILL: refused at once; SIGSTOP: hangs, the probe times out
    down_s = time.monotonic() - sent
    while pid_alive(pid) and time.monotonic() - sent < limit_s:
        time.sleep(0.5)
    gone_s = time.monotonic() - sent
    while invocation() in (run, "") and time.monotonic() - sent < limit_s:
        time.sleep(0.5)  # systemd's restart delay, then the new run's ExecStartPre
    started_s = time.monotonic() - sent
    back_s = wait_healthy(limit_s) + started_s
    after = int(unit_state().get("NRestarts", 0))
    return {
        "signal": signal,
        "unhealthy_after_s": round(down_s, 1),
        "server_gone_after_s": round(gone_s, 1),
        "new_run_after_s": round(started_s, 1),
        "healthy_after_s": round(back_s, 1),
        "one_start_s": round(back_s - started_s, 1),
        "restarts": after - before,
    }


def invocation() -> str:
    return on_host(f"systemctl show -p InvocationID --value {UNIT}")


def wait_watchdog_armed(limit_s: float) -> None:
    """Until the watchdog has seen the current run healthy (it ignores a run still loading)."""
    started = time.monotonic()
    while time.monotonic() - started < limit_s:
        run = invocation()
        state = on_host(f"cat /run/vllm-fleet/watchdog-{UNIT} 2>/dev/null || true").split()
        if state[:2] == [run, "1"]:
            return
        time.sleep(1)
    raise TimeoutError("the watchdog never saw the server healthy")


def pid_alive(pid: int) -> bool:
    return on_host(f"kill -0 {pid} 2>/dev/null && echo yes || echo no") == "yes"


@dataclass
class Stream:
    """One streaming completion: its text, how it ended, what went wrong."""

    text: str = ""
    finish_reason: str | None = None
    done: bool = False
    error: str | None = None
    chunks: int = 0
    timeline: list[float] = field(default_factory=list)


def stream_completion(model: str, api_key: str | None, max_tokens: int, out: Stream) -> None:
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    body = {
        "model": model,
        "prompt": "Count slowly from one to one thousand:",
        "max_tokens": max_tokens,
        "min_tokens": max_tokens,
        "temperature": 0,
        "stream": True,
    }
    try:
        with httpx.stream(
            "POST",
            f"{URL}/v1/completions",
            json=body,
            headers=headers,
            timeout=httpx.Timeout(30, read=300),
        ) as response:
            response.raise_for_status()
            for line in response.iter_lines():
                if not line.startswith("data: "):
                    continue
                data = line.removeprefix("data: ")
                if data == "[DONE]":
                    out.done = True
                    break
                choice = json.loads(data)["choices"][0]
                out.text += choice.get("text") or ""
                out.finish_reason = choice.get("finish_reason") or out.finish_reason
                out.chunks += 1
                out.timeline.append(time.monotonic())
    except (httpx.HTTPError, ValueError, KeyError) as err:
        out.error = f"{type(err).__name__}: {err}"


def streams_across_restart(
    model: str,
    api_key: str | None,
    streams: int = 4,
    max_tokens: int = 256,
    first_chunk_timeout_s: float = 120,
) -> dict:
    """Start ``streams`` long streaming completions, `systemctl restart` the unit once every one
    has its first chunk (or ``first_chunk_timeout_s`` passed: a loaded machine can take a
    while), and count those that finished intact (finish_reason set and [DONE] received)."""
    results = [Stream() for _ in range(streams)]
    threads = [
        threading.Thread(target=stream_completion, args=(model, api_key, max_tokens, r))
        for r in results
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + first_chunk_timeout_s
    while time.monotonic() < deadline and not all(r.chunks or r.done for r in results):
        time.sleep(0.1)
    in_flight = sum(1 for r in results if r.chunks and not r.done)
    started = time.monotonic()
    on_host(f"systemctl restart {UNIT}")  # returns once the old server stopped
    restart_s = time.monotonic() - started
    for thread in threads:
        thread.join(timeout=600)
    complete = [r for r in results if r.done and r.finish_reason and not r.error]
    back_s = wait_healthy(600)
    return {
        "streams": streams,
        "in_flight_at_restart": in_flight,
        "completed_intact": len(complete),
        "share_completed": len(complete) / streams,
        "stop_took_s": round(restart_s, 1),
        "healthy_again_after_s": round(back_s, 1),
        "errors": [r.error for r in results if r.error],
        "finish_reasons": [r.finish_reason for r in results],
    }
