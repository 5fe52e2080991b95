"""Resolve the hub caches of an inventory: which hosts run one, what they cache, and which
endpoint each serving host downloads its weights from.

Pure (inventory data in, frozen specs out), so `invoke plan` and the deploy check the same things
before anything connects: a cache host without a data folder, and a serving host whose
`hub_cache_group` names a group with no host. Each is one ConfigError naming the file and field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vllm_fleet.errors import ConfigError
from vllm_fleet.hostdata import HostSettings, settings_for
from vllm_fleet.serving.inventory import HostData
from vllm_fleet.serving.models import load_model

# The group serving hosts download through unless their data names another (hub_cache_group).
HUB_CACHE_GROUP = HostSettings().hub_cache_group
# The system account olah runs as: it needs no privileges, only its cache folder.
SERVICE_USER = "vllm-hub-cache"


@dataclass(frozen=True)
class CachedModel:
    """One pinned revision that serving hosts fetch through the cache."""

    repo_id: str
    revision: str
    size_bytes: int


@dataclass(frozen=True)
class HubCacheSpec:
    """Everything a cache host runs, resolved from its data and its clients'."""

    host: str
    url: str  # where serving hosts reach it
    group: str
    clients: tuple[str, ...]  # the serving hosts that download through it
    models: tuple[CachedModel, ...]
    settings: HostSettings

    @property
    def upstream(self) -> str:
        return self.settings.hf_endpoint.rstrip("/")

    @property
    def cache_dir(self) -> str:
        assert self.settings.hub_cache_dir  # checked by resolve_hub_caches
        return self.settings.hub_cache_dir

    @property
    def service_user(self) -> str:
        return SERVICE_USER

    @property
    def unit_name(self) -> str:
        return self.settings.hub_cache_unit_name

    @property
    def unit_path(self) -> str:
        return f"/etc/systemd/system/{self.unit_name}.service"

    @property
    def config_path(self) -> str:
        return f"{self.settings.hub_cache_venv_dir}/etc/olah.toml"

    @property
    def size_bytes(self) -> int:
        return sum(m.size_bytes for m in self.models)

    def argv(self) -> list[str]:
        # --log-path is a command-line option only (olah's server.py); the rest is the config.
        return [
            f"{self.settings.hub_cache_venv_dir}/bin/olah-cli",
            "--config",
            self.config_path,
            "--log-path",
            f"{self.cache_dir}/logs",
        ]

    def to_dict(self) -> dict[str, Any]:
        s = self.settings
        return {
            "host": self.host,
            "role": "hub_cache",
            "url": self.url,
            "group": self.group,
            "upstream": self.upstream,
            "offline": s.hub_cache_offline,
            "cache_dir": self.cache_dir,
            "clients": list(self.clients),
            "models": [
                {"repo_id": m.repo_id, "revision": m.revision, "size_bytes": m.size_bytes}
                for m in self.models
            ],
            "olah_version": s.hub_cache_version,
        }


def resolve_hub_caches(hosts: list[HostData]) -> list[HubCacheSpec]:
    """A HubCacheSpec per cache host (a host of a group some serving host downloads through, or
    of `hub_cache`); ConfigError on the first bad one."""
    settings = {h.name: settings_for(h) for h in hosts}
    serving = [h for h in hosts if settings[h.name].model is not None]
    groups = {settings[h.name].hub_cache_group for h in serving} | {HUB_CACHE_GROUP}
    specs = []
    for cache in (h for h in hosts if groups & set(h.groups)):
        group = sorted(groups & set(cache.groups))[0]
        clients = [c for c in serving if _cache_of(c, hosts, settings) is cache]
        specs.append(_resolve(cache, group, clients, settings))
    return specs


def weights_endpoints(hosts: list[HostData]) -> dict[str, str]:
    """Where each serving host downloads weights from: its cache group's first host, else its
    hf_endpoint. ConfigError for a host that names, on purpose, a group with no host."""
    settings = {h.name: settings_for(h) for h in hosts}
    endpoints = {}
    for client in (h for h in hosts if settings[h.name].model is not None):
        cache = _cache_of(client, hosts, settings)
        endpoints[client.name] = (
            cache_url(cache.name, settings[cache.name])
            if cache
            else settings[client.name].hf_endpoint.rstrip("/")
        )
    return endpoints


def cache_url(name: str, s: HostSettings) -> str:
    """Where serving hosts reach cache host ``name``."""
    return (s.hub_cache_url or f"http://{name}:{s.hub_cache_port}").rstrip("/")


def _cache_of(
    host: HostData, hosts: list[HostData], settings: dict[str, HostSettings]
) -> HostData | None:
    """The first host of ``host``'s hub_cache_group, None when the group is not in the
    inventory, or ConfigError when the host names the group on purpose and it has no host."""
    group = settings[host.name].hub_cache_group
    members = [h for h in hosts if group in h.groups]
    if members:
        return members[0]
    if "hub_cache_group" in host.data:
        known = sorted({g for h in hosts for g in h.groups})
        raise ConfigError(
            host.source("hub_cache_group"),
            "hub_cache_group",
            f"host {host.name} downloads through group {group!r}, which has no host; put the "
            f"cache host in it or remove the key (the inventory's groups: {', '.join(known)})",
        )
    return None


def _resolve(
    cache: HostData, group: str, clients: list[HostData], settings: dict[str, HostSettings]
) -> HubCacheSpec:
    s = settings[cache.name]
    if not s.hub_cache_dir:
        raise ConfigError(
            cache.source("hub_cache_dir"),
            "hub_cache_dir",
            f"missing: cache host {cache.name} (group {group!r}) needs a data-disk folder for "
            "the cached weights, e.g. hub_cache_dir = '/data/hub-cache'",
        )
    models = {}
    for client in clients:
        model = load_model(settings[client.name].model or "", where=client.source("model"))
        models[(model.repo_id, model.revision)] = CachedModel(
            model.repo_id, model.revision, model.size_bytes
        )
    return HubCacheSpec(
        host=cache.name,
        url=cache_url(cache.name, s),
        group=group,
        clients=tuple(c.name for c in clients),
        models=tuple(models.values()),
        settings=s,
    )
