"""Resolve one host's serving settings into a ServeSpec: the single source every runtime consumes.

``resolve(host, model, image)`` is pure: host data + model file + what is known about the image
(its vLLM version, container paths, manifest) in, a frozen spec out. The systemd unit (container
or venv), the plan and the deploy all read the spec; none of them re-derives a flag or a variable.
The steps live by job: layers.py (merging), checks.py (semantic checks), validate.py (against the
image manifest), derive.py (argv, credentials, volumes, unit, image).

Secrets never enter a spec: credentials are references (``env:VLLM_API_KEY``,
``file:/home/op/.hf-token``) and the host path the deploy writes them to.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from vllm_fleet.serving import checks, derive, layers
from vllm_fleet.serving.carriers import check_no_credentials
from vllm_fleet.serving.checks import host_values
from vllm_fleet.serving.derive import Credential, Mount, UnitSettings, Weights, flag_args
from vllm_fleet.serving.imagefacts import ImageFacts
from vllm_fleet.serving.inventory import HostData
from vllm_fleet.serving.models import ContainerAccess, ModelFile, check_env, check_flags
from vllm_fleet.serving.supervision import shutdown_flags
from vllm_fleet.serving.validate import Validation, validate
from vllm_fleet.serving.vendorgates import check_vendor_support

# The names other modules import from here: a spec and everything it is made of.
__all__ = [
    "Credential",
    "ImageFacts",
    "Mount",
    "ServeSpec",
    "UnitSettings",
    "Validation",
    "Weights",
    "flag_args",
    "host_values",
    "resolve",
    "server_url",
]


@dataclass(frozen=True)
class ServeSpec:
    """Everything needed to run `vllm serve` for one host, in either runtime."""

    host: str
    model: str
    model_file: str
    profile: str
    served_model_name: str
    gpu_vendor: str
    gpu_count: int
    runtime: str
    image: str | None
    image_pull: bool
    image_target: str
    port: int
    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    credentials: tuple[Credential, ...]
    container: ContainerAccess
    volumes: tuple[Mount, ...]
    host_dirs: tuple[str, ...]
    unit: UnitSettings
    weights: Weights
    validation: Validation
    sources: tuple[tuple[str, str], ...] = ()
    warnings: tuple[str, ...] = field(default=())

    @property
    def service_credentials(self) -> tuple[Credential, ...]:
        """The credentials the running server reads (the HF token is only for the download)."""
        return tuple(c for c in self.credentials if c.container_path)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (lists and dicts), in a stable order."""
        data = asdict(self)
        data["env"] = dict(self.env)
        data["sources"] = dict(self.sources)
        return data


def resolve(
    host: HostData,
    model: ModelFile,
    image: ImageFacts,
    *,
    env_names: Iterable[str] = (),
    strict_env: bool = False,
    allow_unvalidated: bool = False,
) -> ServeSpec:
    """Resolve ``host`` running ``model`` in ``image`` into a ServeSpec.

    ``env_names`` are the names (never the values) of the controller's environment variables,
    used only to say where a secret will come from. ``strict_env`` turns an environment
    variable the image's vLLM does not know into an error instead of a warning.
    ``allow_unvalidated`` (or host data ``allow_unvalidated``) lets a spec through that no
    image manifest can check.
    Raises ConfigError (naming file and field) on anything that would not start or not fit.
    """
    h = host_values(host)
    if h.model != model.name:
        raise ValueError(f"host {host.name} asks for model {h.model!r}, got {model.name!r}")
    profile = model.profile(h.profile, host.source("profile"), "profile")
    checks.check_profile_fits(host, h, model, profile.name, profile.gpu_vendors)
    model_layers = model.layers_for(h.gpu_vendor, image.vllm_version)
    host_flags = check_flags(host.source("serve_flags"), "serve_flags", h.serve_flags)
    host_env = check_env(host.source("serve_env"), "serve_env", h.serve_env)

    flags = layers.merge(
        [model.flags, profile.flags, *(la.flags for la in model_layers), host_flags]
    )
    env_layers = [model.env, profile.env, *(la.env for la in model_layers), host_env]
    env = {**layers.own_env(h, image), **layers.merge(env_layers)}
    check_no_credentials(flags, env)
    checks.check_reserved_flags(flags)
    flags.update(shutdown_flags(h, image.manifest, image.vllm_version))
    notes = {name: note for la in model_layers for name, note in la.notes.items()}
    credentials = derive.credentials(h, set(env_names))
    checks.check_gated(host, model, credentials)
    checks.check_env_names(env)
    checks.check_parallelism(host, h, flags)
    check_vendor_support(host, h, flags)
    checks.check_visibility(env)

    warnings: list[str] = []
    validation = validate(
        flags,
        env,
        notes,
        credentials,
        image,
        strict_env,
        warnings,
        allow_unvalidated or h.allow_unvalidated,
    )
    container = (
        layers.container_access(model_layers) if h.runtime == "container" else ContainerAccess()
    )
    image_ref = derive.image_ref(host, h, image, warnings)
    derive.fleet_warnings(host, h, flags, image_ref, credentials, warnings)
    return ServeSpec(
        host=host.name,
        model=model.name,
        model_file=model.path,
        profile=profile.name,
        served_model_name=model.served_model_name,
        gpu_vendor=h.gpu_vendor,
        gpu_count=h.gpu_count,
        runtime=h.runtime,
        image=image_ref,
        image_pull=h.image_pull if h.runtime == "container" else False,
        image_target=h.image_target,
        port=h.vllm_port,
        argv=derive.argv(model, h.vllm_port, flags),
        env=tuple((name, str(s.value)) for name, s in env.items()),
        credentials=credentials,
        container=container,
        volumes=derive.volumes(h, image, credentials),
        host_dirs=(layers.hf_cache(h), layers.vllm_cache(h)),
        unit=derive.unit(h),
        weights=Weights(model.repo_id, model.revision, model.size_bytes, layers.hf_cache(h)),
        validation=validation,
        sources=derive.sources(flags, env),
        warnings=tuple(warnings),
    )


def server_url(spec: ServeSpec, vllm_url: str | None) -> str:
    """Where the controller reaches ``spec``'s server: host data ``vllm_url``, else
    http://<host name>:<port>."""
    return (vllm_url or f"http://{spec.host}:{spec.port}").rstrip("/")
