"""The per-host plan: what each host of an inventory will run, before anything restarts.

For every host: the resolved `vllm serve` command, its environment (secrets only as references),
the rendered unit, which image manifest validated it (or that none did), and the warnings.
Nothing here connects to a host.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from vllm_fleet.errors import FleetError
from vllm_fleet.hostdata import settings_for
from vllm_fleet.hubcache.spec import HUB_CACHE_GROUP, weights_endpoints
from vllm_fleet.images.matrix import Matrix
from vllm_fleet.paths import MANIFEST_DIR, MODELS_DIR
from vllm_fleet.router.spec import ROUTERS_GROUP
from vllm_fleet.serving.imagefacts import image_facts
from vllm_fleet.serving.inventory import HostData, load_inventory, select_host
from vllm_fleet.serving.models import ModelFile, display_path, load_model
from vllm_fleet.serving.pools import check_restart_budgets
from vllm_fleet.serving.spec import ServeSpec, host_values, resolve
from vllm_fleet.serving.units import command, credential_reference, render_unit, shell_command
from vllm_fleet.serving.vendorgates import check_amd_driver


@dataclass(frozen=True)
class HostPlan:
    """One host's plan, or the one error that stops it."""

    host: str
    spec: ServeSpec | None = None
    unit_text: str | None = None
    error: str | None = None
    weights_from: str | None = None  # the hub cache or hf_endpoint it downloads from

    def to_dict(self) -> dict[str, Any]:
        if self.spec is None:
            return {"host": self.host, "error": self.error}
        spec = self.spec
        return {
            "host": self.host,
            "model": spec.model,
            "profile": spec.profile,
            "gpu": f"{spec.gpu_vendor} x{spec.gpu_count}",
            "runtime": spec.runtime,
            "image": spec.image,
            "weights_from": self.weights_from,
            "validation": spec.validation.summary,
            "command": shell_command(spec.argv),
            "exec_start": shell_command(command(spec)),
            "environment": environment(spec),
            "warnings": list(spec.warnings),
            "unit": {"path": spec.unit.path, "text": self.unit_text},
            "spec": spec.to_dict(),
        }


class Planner:
    """Plans hosts against one set of data folders; reads each model file once."""

    def __init__(
        self,
        *,
        models_dir: Path = MODELS_DIR,
        manifest_dir: Path = MANIFEST_DIR,
        env_names: Iterable[str] = (),
        strict_env: bool = False,
        allow_unvalidated: bool = False,
    ) -> None:
        self.models_dir = models_dir
        self.manifest_dir = manifest_dir
        self.env_names = frozenset(env_names)
        self.strict_env = strict_env
        self.allow_unvalidated = allow_unvalidated
        self._matrix: Matrix | None = None
        self._models: dict[str, ModelFile] = {}

    def spec(self, host: HostData) -> ServeSpec:
        """Resolve ``host``; raises ConfigError (file and field) when its data cannot serve."""
        values = host_values(host)
        model = self._model(values.model, host)
        facts = image_facts(
            values.image_target,
            where=host.source("image_target"),
            manifest_dir=self.manifest_dir,
            matrix=self.matrix,
        )
        spec = resolve(
            host,
            model,
            facts,
            env_names=self.env_names,
            strict_env=self.strict_env,
            allow_unvalidated=self.allow_unvalidated,
        )
        check_amd_driver(host, values, self.matrix, None if facts.stood_in else facts.manifest)
        return spec

    def plan(self, host: HostData) -> HostPlan:
        """``host``'s plan; a FleetError becomes the plan's error instead of stopping the fleet."""
        try:
            spec = self.spec(host)
            return HostPlan(host.name, spec, render_unit(spec))
        except FleetError as err:
            return HostPlan(host.name, error=str(err))

    @property
    def matrix(self) -> Matrix:
        if self._matrix is None:
            self._matrix = Matrix()
        return self._matrix

    def _model(self, name: str, host: HostData) -> ModelFile:
        if name not in self._models:
            self._models[name] = load_model(name, self.models_dir, where=host.source("model"))
        return self._models[name]


def plan_inventory(
    inventory: Path | str, host: str | None = None, **options: Any
) -> list[HostPlan]:
    """Plans for every host of ``inventory`` (or only ``host``). ``options`` go to Planner."""
    hosts = fleet = load_inventory(inventory)
    check_restart_budgets(fleet)
    if host is not None:
        hosts = [select_host(hosts, host, display_path(inventory))]
        # A router or cache that serves no model has only its own plan (vllm_fleet.router.plan,
        # vllm_fleet.hubcache.plan).
        roles = {ROUTERS_GROUP, HUB_CACHE_GROUP}
        hosts = [h for h in hosts if serves_a_model(h) or not roles & set(h.groups)]
    else:
        hosts = [h for h in hosts if serves_a_model(h)]
    planner = Planner(**options)
    endpoints = weights_endpoints(fleet)
    return [replace(planner.plan(h), weights_from=endpoints.get(h.name)) for h in hosts]


def serves_a_model(host: HostData) -> bool:
    """Whether ``host`` is a serving host (its data names a model); others (routers, caches,
    monitoring) have plans of their own. Bad data counts as serving, so its plan shows why."""
    try:
        return settings_for(host).model is not None
    except FleetError:
        return True


def environment(spec: ServeSpec) -> dict[str, str]:
    """The server's environment as shown to people: secrets as where they come from."""
    shown = dict(spec.env)
    for credential in spec.service_credentials:
        shown[credential.env] = credential_reference(credential)
    return shown
