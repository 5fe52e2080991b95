"""Resolve the routers of an inventory: which serving hosts each one fronts, on which address.

``resolve_routers(hosts)`` is pure (inventory data in, frozen RouterSpecs out) and checks the
whole fleet before anything connects: a pool that is empty or names an unknown group, a pool
whose hosts serve different models, two routers claiming one client address, and (through the
host-data schema) a policy vllm-router does not have. Each is one ConfigError naming the file
and field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vllm_fleet.errors import ConfigError
from vllm_fleet.hostdata import HostSettings, settings_for
from vllm_fleet.serving.inventory import HostData
from vllm_fleet.serving.spec import Credential

# The inventory group whose hosts run a router (a CPU host, or one of the GPU hosts).
ROUTERS_GROUP = "routers"
# Files on the router host. The key file is root-only (0600): HAProxy reads it as root before it
# drops privileges, so the key is never in a command line, the unit or a world-readable file.
HAPROXY_CONFIG = "/etc/haproxy/haproxy.cfg"
ROUTER_KEY_FILE_NAME = "router-api-keys"
# The system account vllm-router and the reconciler run as: they need no privileges.
SERVICE_USER = "vllm-router"


@dataclass(frozen=True)
class Worker:
    """One serving host behind a router."""

    host: str
    url: str
    drained: bool = False  # router_drain: no new requests; removed from the router


@dataclass(frozen=True)
class RouterSpec:
    """Everything a router host runs, resolved from its data and its pool's."""

    host: str
    url: str  # what clients use
    model: str  # the pool's model (every worker serves it)
    pool: str  # the group fronted, or "inventory"
    workers: tuple[Worker, ...]
    settings: HostSettings
    api_key: Credential | None

    @property
    def rotation(self) -> tuple[str, ...]:
        """The worker URLs the router is to hold (drained hosts left out)."""
        return tuple(w.url for w in self.workers if not w.drained)

    @property
    def service_user(self) -> str:
        return SERVICE_USER

    @property
    def backend(self) -> str:
        return f"http://127.0.0.1:{self.settings.router_backend_port}"

    @property
    def unit_name(self) -> str:
        return self.settings.router_unit_name

    @property
    def workers_unit_name(self) -> str:
        return f"{self.settings.router_unit_name}-workers"

    @property
    def unit_path(self) -> str:
        return f"/etc/systemd/system/{self.unit_name}.service"

    @property
    def workers_unit_path(self) -> str:
        return f"/etc/systemd/system/{self.workers_unit_name}.service"

    @property
    def config_dir(self) -> str:
        """Non-secret router files: the worker list and the reconciler script."""
        return f"{self.settings.router_venv_dir}/etc"

    @property
    def workers_file(self) -> str:
        return f"{self.config_dir}/workers"

    @property
    def drained_file(self) -> str:
        """Workers taken out at run time (`invoke rollout`), beside the deploy's list."""
        return f"{self.config_dir}/drained"

    @property
    def gate_script(self) -> str:
        return f"{self.config_dir}/router_workers.py"

    @property
    def key_file(self) -> str:
        return f"{self.settings.vllm_secrets_dir}/{ROUTER_KEY_FILE_NAME}"

    def argv(self) -> list[str]:
        """vllm-router's command: no --worker-urls (it would exit if they are not healthy within
        --worker-startup-timeout-secs); the reconciler adds them once each answers /health."""
        s = self.settings
        return [
            f"{s.router_venv_dir}/bin/vllm-router",
            "--host",
            "127.0.0.1",
            "--port",
            str(s.router_backend_port),
            "--policy",
            s.router_policy,
            "--prometheus-host",
            "127.0.0.1",
            "--prometheus-port",
            str(s.router_metrics_port),
            "--health-check-interval-secs",
            str(s.router_health_interval_s),
            "--health-failure-threshold",
            str(s.router_health_failures),
            "--health-check-timeout-secs",
            str(s.router_health_timeout_s),
            "--health-check-endpoint",
            "/health",
        ]

    def gate_argv(self) -> list[str]:
        return [
            f"{self.settings.router_venv_dir}/bin/python",
            self.gate_script,
            "--router",
            self.backend,
            "--workers-file",
            self.workers_file,
            "--drained-file",
            self.drained_file,
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "role": "router",
            "url": self.url,
            "model": self.model,
            "pool": self.pool,
            "policy": self.settings.router_policy,
            "workers": [{"host": w.host, "url": w.url, "drained": w.drained} for w in self.workers],
            "router_version": self.settings.router_version,
            "api_key": _key_reference(self.api_key),
        }


def router_hosts(hosts: list[HostData]) -> list[HostData]:
    return [h for h in hosts if ROUTERS_GROUP in h.groups]


def resolve_routers(
    hosts: list[HostData], env_names: set[str] | frozenset[str] = frozenset()
) -> list[RouterSpec]:
    """A RouterSpec per host of the `routers` group; ConfigError on the first bad one."""
    settings = {h.name: settings_for(h) for h in hosts}
    specs = [_resolve(router, hosts, settings, env_names) for router in router_hosts(hosts)]
    _check_addresses(specs, {h.name: h for h in hosts})
    return specs


def _resolve(
    router: HostData,
    hosts: list[HostData],
    settings: dict[str, HostSettings],
    env_names: set[str] | frozenset[str],
) -> RouterSpec:
    s = settings[router.name]
    pool_name, members = _pool(router, s, hosts, settings)
    models = {}
    for member in members:
        models.setdefault(settings[member.name].model, []).append(member.name)
    if len(models) > 1:
        listing = "; ".join(f"{model}: {', '.join(names)}" for model, names in models.items())
        raise ConfigError(
            router.source("router_pool"),
            "router_pool",
            f"router {router.name}'s pool {pool_name!r} mixes models ({listing}); "
            "a router fronts one model: name a group that serves one",
        )
    (model,) = models
    workers = tuple(
        Worker(m.name, worker_url(m.name, settings[m.name]), settings[m.name].router_drain)
        for m in members
    )
    return RouterSpec(
        host=router.name,
        url=client_url(router.name, s),
        model=model,
        pool=pool_name,
        workers=workers,
        settings=s,
        api_key=_api_key(s, env_names),
    )


def _pool(
    router: HostData, s: HostSettings, hosts: list[HostData], settings: dict[str, HostSettings]
) -> tuple[str, list[HostData]]:
    serving = [h for h in hosts if settings[h.name].model is not None]
    if s.router_pool is None:
        if not serving:
            raise ConfigError(
                router.source("router_pool"),
                "router_pool",
                f"router {router.name} has an empty pool: no host of the "
                "inventory serves a model (set `model` on the serving hosts)",
            )
        return "inventory", serving
    groups = sorted({g for h in hosts for g in h.groups})
    if s.router_pool not in groups:
        raise ConfigError(
            router.source("router_pool"),
            "router_pool",
            f"unknown group {s.router_pool!r}; the inventory's groups: {', '.join(groups)}",
        )
    members = [h for h in serving if s.router_pool in h.groups]
    if not members:
        raise ConfigError(
            router.source("router_pool"),
            "router_pool",
            f"router {router.name}'s pool {s.router_pool!r} is empty: none of "
            "its hosts serves a model",
        )
    return s.router_pool, members


def worker_url(name: str, s: HostSettings) -> str:
    """Where routers reach serving host ``name``."""
    return (s.worker_url or f"http://{name}:{s.vllm_port}").rstrip("/")


def client_url(name: str, s: HostSettings) -> str:
    """Where clients reach router host ``name`` (HAProxy; it also serves the router's /metrics)."""
    return (s.router_url or f"http://{name}:{s.router_port}").rstrip("/")


def _check_addresses(specs: list[RouterSpec], by_name: dict[str, HostData]) -> None:
    """Two routers on one client address would fight over it (or one of them never serves)."""
    claimed: dict[str, str] = {}
    for spec in specs:
        if spec.url in claimed:
            field = "router_url" if spec.settings.router_url else "router_port"
            raise ConfigError(
                by_name[spec.host].source(field),
                field,
                f"routers {claimed[spec.url]} and {spec.host} both claim "
                f"{spec.url}; give each router its own address",
            )
        claimed[spec.url] = spec.host


def _api_key(s: HostSettings, env_names: set[str] | frozenset[str]) -> Credential | None:
    """The key clients must send, checked by HAProxy (the same key the workers are given)."""
    if s.vllm_api_key_file:
        source = f"file:{s.vllm_api_key_file}"
    elif "VLLM_API_KEY" in env_names:
        source = "env:VLLM_API_KEY"
    else:
        return None
    return Credential(
        "vllm_api_key",
        "VLLM_API_KEY",
        source,
        f"{s.vllm_secrets_dir}/{ROUTER_KEY_FILE_NAME}",
        "HAProxy on the router host (Authorization: Bearer <key>)",
    )


def _key_reference(credential: Credential | None) -> str | None:
    if credential is None:
        return None
    return f"<secret from {credential.source} -> {credential.host_path}>"
