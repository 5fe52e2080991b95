"""Taking a serving host out of its routers before a restart, and putting it back after.

A drain adds the host's URL to the router host's drained file and waits until vllm-router no
longer holds it (vllm_fleet.router.router_workers: the reconciler removes it; vllm-router sends
it no new request and lets in-flight ones finish). Then the rollout waits, bounded by the host's
``drain_timeout_s``, until the host's own /metrics shows no request running or waiting. An
undrain takes the URL out of the file and waits until the router holds the host again (the
reconciler adds it once its /health answers).
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from vllm_fleet.errors import FleetError
from vllm_fleet.hostdata import settings_for
from vllm_fleet.pyinfra_run import run_command_fact
from vllm_fleet.router.spec import RouterSpec, resolve_routers
from vllm_fleet.serving.inventory import HostData
from vllm_fleet.serving.secretnames import secrets_present
from vllm_fleet.serving.spec import ServeSpec, server_url
from vllm_fleet.smoke.metrics import parse_metrics

Log = Callable[[str], None]
# vLLM's gauges of the requests a server holds (https://docs.vllm.ai/en/latest/usage/metrics.html)
IN_FLIGHT_METRICS = ("vllm:num_requests_running", "vllm:num_requests_waiting")
# What the drain command prints on a router host where the router is not deployed yet.
NO_ROUTER = "no router deployed"
# How long the router may take to show a drain or an undrain.
ROUTER_TIMEOUT_S = 120


@dataclass
class Drainer:
    """Drains and undrains serving hosts on every router of the inventory that fronts them."""

    inventory: Path | str
    hosts: list[HostData]
    log: Log

    def __post_init__(self) -> None:
        self.routers: list[RouterSpec] = resolve_routers(self.hosts, frozenset(secrets_present()))

    def drain(self, name: str) -> None:
        for router, url in self._fronting(name):
            self._run(router, "drain", url, name)

    def undrain(self, name: str) -> None:
        for router, url in self._fronting(name):
            self._run(router, "undrain", url, name)

    def wait_idle(self, name: str, spec: ServeSpec) -> float:
        """Seconds until ``name`` holds no request (or its drain_timeout_s passed)."""
        settings = settings_for(next(h for h in self.hosts if h.name == name))
        url = f"{server_url(spec, settings.vllm_url)}/metrics"
        started = time.monotonic()
        while (held := in_flight(url)) and time.monotonic() - started < settings.drain_timeout_s:
            time.sleep(0.5)
        waited = time.monotonic() - started
        if held:
            self.log(
                f"{name}: {held:g} requests still in flight after {waited:.0f} s; "
                "restarting (vLLM's --shutdown-timeout lets them finish)"
            )
        return waited

    def _fronting(self, name: str) -> list[tuple[RouterSpec, str]]:
        fronting = [
            (router, worker.url)
            for router in self.routers
            for worker in router.workers
            if worker.host == name and not worker.drained
        ]
        if not fronting:
            self.log(f"{name}: no router fronts it; it restarts without a drain")
        return fronting

    def _run(self, router: RouterSpec, action: str, url: str, name: str) -> None:
        argv = [*router.gate_argv(), "--timeout", str(ROUTER_TIMEOUT_S), action, url]
        python, script = (shlex.quote(part) for part in router.gate_argv()[:2])
        command = (
            f"if [ -x {python} ] && [ -f {script} ]; then {shlex.join(argv)}; "
            f"else echo {shlex.quote(NO_ROUTER)}; fi"
        )
        try:
            output = run_command_fact(
                self.inventory, router.host, command, timeout=ROUTER_TIMEOUT_S + 60
            )
        except FleetError as err:
            raise FleetError(f"{name}: {action} on router {router.host} failed: {err}") from None
        if NO_ROUTER in output:
            self.log(f"{name}: router {router.host} is not deployed; no {action}")
            return
        self.log(f"{name}: {output.strip()} on router {router.host}")


def in_flight(metrics_url: str) -> float:
    """Requests the server holds, from its /metrics (0 when it does not answer: nothing can be
    in flight on a server that is down)."""
    try:
        text = httpx.get(metrics_url, timeout=5).text
    except httpx.HTTPError:
        return 0.0
    return sum(s.value for s in parse_metrics(text) if s.name in IN_FLIGHT_METRICS)
