"""The ready gate: after a (re)start, wait for /health with progress; if the unit dies, fail with
the tail of its journal; once healthy, run the smoke checks (vllm_fleet.smoke) as a client would.
A cold Kimi-K2 load takes 10-30 minutes, so the wait is long (host data ``ready_timeout_s``) and
says what it is waiting for.

When the gate fails on a host that served another version before this deploy, the host goes
back to that version's unit on its own and waits for /health again; the deploy still fails,
naming the stage, the journal's lines and the version serving again (vllm_fleet.deploy.rolling).
"""

from __future__ import annotations

import shlex
import time

import httpx
from pyinfra import host, logger
from pyinfra.api import deploy
from pyinfra.api.exceptions import OperationError
from pyinfra.operations import python

from vllm_fleet.deploy.context import host_settings
from vllm_fleet.deploy.credentials import read_secret
from vllm_fleet.deploy.facts import UnitState
from vllm_fleet.deploy.rolling import LastGood, restore_unit
from vllm_fleet.serving.spec import ServeSpec, server_url
from vllm_fleet.smoke.runner import run_smoke

JOURNAL_LINES = 40
# How a failed gate's error starts; `invoke rollout` finds it in pyinfra's output by this.
GATE_FAILED = "ready gate failed at"


def endpoint_url(spec: ServeSpec) -> str:
    """Where the controller reaches this host's server (host data ``vllm_url`` overrides)."""
    return server_url(spec, host_settings().vllm_url)


@deploy("Ready gate")
def ready_gate(spec: ServeSpec, started, rollback_to: LastGood | None = None) -> None:
    """Wait for the server after ``started`` (the start/restart operation) changed something;
    on a failure, return the host to ``rollback_to`` before failing the deploy."""
    python.call(
        name=f"Wait for {endpoint_url(spec)}/health, then smoke it",
        function=wait_then_smoke,
        spec=spec,
        rollback_to=rollback_to,
        _if=started.did_change,
    )


def wait_then_smoke(spec: ServeSpec, rollback_to: LastGood | None = None) -> None:
    stage = "health"
    try:
        wait_for_health(spec)
        if host_settings().ready_smoke:
            stage = "smoke"
            smoke(spec)
    except OperationError as err:
        if rollback_to is None:
            raise
        started = time.monotonic()
        logger.warning(f"    [{host.name}] ready gate failed ({stage}); rolling back")
        restore_unit(spec, rollback_to.unit_copy)
        wait_for_health(spec)
        raise OperationError(
            f"{GATE_FAILED} {stage}; rolled back to {rollback_to.version.describe()}, serving "
            f"again after {time.monotonic() - started:.0f} s. {err}"
        ) from None


def smoke(spec: ServeSpec) -> None:
    """The smoke suite against the fresh server; any failed check fails the deploy."""
    key = next((c for c in spec.credentials if c.name == "vllm_api_key"), None)
    report = run_smoke(
        endpoint_url(spec), spec.served_model_name, api_key=read_secret(key) if key else None
    )
    if not report.passed:
        failed = "; ".join(f"{c.name}: {c.detail}" for c in report.checks if not c.passed)
        raise OperationError(f"{endpoint_url(spec)} is up but smoke checks failed: {failed}")
    logger.info(
        f"    [{host.name}] smoke: {len(report.checks)} checks passed in {report.seconds:.1f} s"
    )


def wait_for_health(spec: ServeSpec) -> None:
    url = f"{endpoint_url(spec)}/health"
    timeout = host_settings().ready_timeout_s
    unit = f"{spec.unit.name}.service"
    started = time.monotonic()
    restarts = _unit_state(unit).get("NRestarts", "0")
    last_report = 0.0
    while True:
        waited = time.monotonic() - started
        status = _health(url)
        if status == 200:
            logger.info(f"    [{host.name}] {url} ready after {waited:.0f} s")
            return
        state = _unit_state(unit)
        if (
            state.get("ActiveState") in ("failed", "inactive")
            or state.get("NRestarts", "0") != restarts
        ):
            raise OperationError(
                f"{unit} stopped while loading ({_describe(state)}); last "
                f"journal lines:\n{_journal_tail(unit)}"
            )
        if waited > timeout:
            raise OperationError(
                f"{url} not ready after {timeout:.0f} s (last: {status}); "
                f"last journal lines:\n{_journal_tail(unit)}"
            )
        if waited - last_report >= 15:
            logger.info(f"    [{host.name}] waiting for {url} ({waited:.0f} s, {status})")
            last_report = waited
        time.sleep(2)


def _health(url: str) -> str | int:
    try:
        return httpx.get(url, timeout=5).status_code
    except httpx.HTTPError as err:
        return type(err).__name__


def _unit_state(unit: str) -> dict[str, str]:
    """The unit's state now (facts are read afresh on each call)."""
    return host.get_fact(UnitState, unit=unit)


def _describe(state: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(state.items()) if k != "LoadState")


def _journal_tail(unit: str) -> str:
    _, output = host.run_shell_command(
        f"journalctl -u {shlex.quote(unit)} -n {JOURNAL_LINES} --no-pager -o cat"
    )
    return "\n".join(output.stdout_lines)
