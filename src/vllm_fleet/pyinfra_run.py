"""Run pyinfra's own command line as a child process, the way an operator types it.

A child process, not ``pyinfra_cli`` imported here: importing the CLI gevent-patches the whole
process (sockets, threads, subprocess), which the Docker SDK and httpx in this process must not
see. The ``pyinfra`` started is the one beside this Python (this virtualenv's), found even when
the venv is not activated.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from vllm_fleet.errors import FleetError


def pyinfra_executable() -> str:
    """This virtualenv's ``pyinfra`` script."""
    return str(Path(sys.executable).parent / "pyinfra")


def run_command_fact(inventory: Path | str, host: str, command: str, timeout: float = 60.0) -> str:
    """Run the shell ``command`` on ``host`` of ``inventory`` over pyinfra's connection (its
    SSH connector and the host's ssh_* data) and return its output.

    pyinfra's ``server.Command`` fact with ``--json`` prints nothing on stdout but a JSON object
    ``{fact: {host: output}}``, so the output needs no scraping of pyinfra's log lines. Raises
    FleetError with pyinfra's own reason (``Could not connect (...)``) when it fails."""
    argv = [
        pyinfra_executable(),
        str(inventory),
        "--limit",
        host,
        "--json",
        "fact",
        "server.Command",
        f"command={command}",
    ]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise FleetError(f"no answer within {timeout:.0f} s") from None
    except OSError as err:
        raise FleetError(f"could not start pyinfra ({err.strerror})") from None
    if proc.returncode != 0:
        raise FleetError(f"pyinfra exited {proc.returncode} ({failure_reason(proc.stderr, host)})")
    return fact_output(proc.stdout, host)


def fact_output(stdout: str, host: str) -> str:
    """The one host's value from ``pyinfra --json fact`` output (empty when the command
    printed nothing)."""
    try:
        facts = json.loads(stdout)
        value = next(iter(facts.values()))[host]
    except (ValueError, StopIteration, KeyError, TypeError, AttributeError):
        raise FleetError(f"pyinfra printed no fact for {host}: {stdout.strip()[:200]!r}") from None
    return value or ""


def failure_reason(stderr: str, host: str) -> str:
    """The line of pyinfra's log that says why: the host's own error line if there is one
    (``[gpu-01] Could not connect (...)``), else pyinfra's last word."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    prefix = f"[{host}] "
    for line in lines:
        status = line.removeprefix(prefix)
        if status != line and not status.startswith(("Connected", "Loaded fact")):
            return status
    return lines[-1].removeprefix("--> ") if lines else "no message"
