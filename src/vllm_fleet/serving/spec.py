"""Resolve one host's serving settings into a ServeSpec: the single source every runtime consumes.

``resolve(host, model, image)`` is pure: host data + model file + what is known about the image
(its vLLM version, container paths, manifest) in, a frozen spec out. The systemd unit (container
or venv), the plan and the deploy all read the spec; none of them re-derives a flag or a variable.

Secrets never enter a spec: credentials are references (``env:VLLM_API_KEY``,
``file:/home/op/.hf-token``) and the host path the deploy writes them to.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from vllm_fleet.errors import ConfigError
from vllm_fleet.hostdata import HostSettings, settings_for
from vllm_fleet.images.manifest import ImageManifest
from vllm_fleet.serving.hardening import VenvConfinement, venv_confinement
from vllm_fleet.serving.inventory import HostData
from vllm_fleet.serving.models import (
    ContainerAccess,
    ModelFile,
    Setting,
    check_env,
    check_flags,
)
from vllm_fleet.serving.supervision import SHUTDOWN_FLAG, Supervision, shutdown_flags, supervision
from vllm_fleet.serving.vendorgates import check_vendor_support

# Set by vllm-fleet itself, never by a model file or host: the weights are downloaded by the
# deploy before the service starts, so vLLM runs offline with the caches the deploy mounts.
_OWN = "vllm-fleet"
_RESERVED_FLAGS = {
    "served-model-name": "served_model_name in the model file",
    "revision": "revision in the model file",
    "port": "vllm_port in the host data",
    "api-key": "vllm_api_key_file or VLLM_API_KEY on the controller (never a command line)",
    SHUTDOWN_FLAG: "vllm_stop_grace_s in the host data",
}
# vLLM's parallelism flags: their product must fit the host's GPUs; DCP reuses the TP GPUs.
_TP, _PP, _DP, _DCP = (
    "tensor-parallel-size", "pipeline-parallel-size", "data-parallel-size",
    "decode-context-parallel-size",
)
# ROCm vLLM copies HIP_VISIBLE_DEVICES into CUDA_VISIBLE_DEVICES and raises if both differ.
_VISIBILITY = ("HIP_VISIBLE_DEVICES", "CUDA_VISIBLE_DEVICES")


@dataclass(frozen=True)
class ImageFacts:
    """What is known about the image a host runs, with or without its manifest."""

    target: str
    vllm_version: str
    version_source: str  # the manifest or matrix entry the version came from
    hf_home: str  # container paths (images/matrix.yaml)
    vllm_cache_root: str
    own_manifest: str  # where the host's own manifest is (or would be)
    manifest: ImageManifest | None = None
    manifest_path: str | None = None  # the manifest that validates (own or a stand-in)

    @property
    def stood_in(self) -> bool:
        return self.manifest is not None and self.manifest_path != self.own_manifest


@dataclass(frozen=True)
class Credential:
    """A secret by reference: where the deploy reads it and where it puts it on the host."""

    name: str  # hf_token | vllm_api_key
    env: str  # the variable its consumer reads
    source: str  # on the controller: env:NAME or file:/path
    host_path: str  # on the host, root-only 0600, written by the deploy
    used_by: str
    container_path: str = ""  # where the container sees it (read-only), if the service uses it


@dataclass(frozen=True)
class Mount:
    host_path: str
    container_path: str
    read_only: bool = False


@dataclass(frozen=True)
class UnitSettings:
    name: str
    path: str
    start_timeout_s: int
    stop_grace_s: int
    restart_delay_s: int
    docker_bin: str | None
    venv_dir: str | None
    supervision: Supervision | None = None
    confinement: VenvConfinement | None = None  # runtime venv: who and where the server may write


@dataclass(frozen=True)
class Weights:
    repo_id: str
    revision: str
    size_bytes: int
    host_cache: str  # the HF cache folder on the host (HF_HOME), where the deploy downloads


@dataclass(frozen=True)
class Validation:
    vllm_version: str
    version_source: str
    manifest: str | None
    stood_in_for: str | None
    validated: bool
    summary: str
    unchecked_env: tuple[str, ...] = ()


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
) -> ServeSpec:
    """Resolve ``host`` running ``model`` in ``image`` into a ServeSpec.

    ``env_names`` are the names (never the values) of the controller's environment variables,
    used only to say where a secret will come from. ``strict_env`` turns an environment
    variable the image's vLLM does not know into an error instead of a warning.
    Raises ConfigError (naming file and field) on anything that would not start or not fit.
    """
    h = host_values(host)
    if h.model != model.name:
        raise ValueError(f"host {host.name} asks for model {h.model!r}, got {model.name!r}")
    profile = model.profile(h.profile, host.source("profile"), "profile")
    _check_profile_fits(host, h, model, profile.name, profile.gpu_vendors)
    layers = model.layers_for(h.gpu_vendor, image.vllm_version)
    host_flags = check_flags(host.source("serve_flags"), "serve_flags", h.serve_flags)
    host_env = check_env(host.source("serve_env"), "serve_env", h.serve_env)

    flags = _merge([model.flags, profile.flags, *(la.flags for la in layers), host_flags])
    _check_reserved_flags(flags)
    flags.update(shutdown_flags(h, image.manifest, image.vllm_version))
    env_layers = [model.env, profile.env, *(la.env for la in layers), host_env]
    env = {**_own_env(h, image), **_merge(env_layers)}
    notes = {name: note for la in layers for name, note in la.notes.items()}
    credentials = _credentials(h, set(env_names))
    _check_gated(host, model, credentials)
    _check_env_names(env)
    _check_parallelism(host, h, flags)
    check_vendor_support(host, h, flags)
    _check_visibility(env)

    warnings: list[str] = []
    validation = _validate(flags, env, notes, credentials, image, strict_env, warnings)
    argv = _argv(model, h.vllm_port, flags)
    container = _container_access(layers) if h.runtime == "container" else ContainerAccess()
    image_ref = _image_ref(host, h, image, warnings)
    _fleet_warnings(host, h, flags, image_ref, credentials, warnings)
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
        argv=argv,
        env=tuple((name, str(s.value)) for name, s in env.items()),
        credentials=credentials,
        container=container,
        volumes=_volumes(h, image, credentials),
        host_dirs=(_hf_cache(h), _vllm_cache(h)),
        unit=_unit(h),
        weights=Weights(model.repo_id, model.revision, model.size_bytes, _hf_cache(h)),
        validation=validation,
        sources=_sources(flags, env),
        warnings=tuple(warnings),
    )


# HOST DATA


def host_values(host: HostData) -> HostSettings:
    """The host's data, typed and checked by the schema, plus the checks across keys."""
    settings = settings_for(host)
    if (settings.gpu_vendor == "none") != (settings.gpu_count == 0):
        raise ConfigError(host.source("gpu_count"), "gpu_count",
                          f"{settings.gpu_count} does not match gpu_vendor "
                          f"{settings.gpu_vendor!r} ({host.source('gpu_vendor')}): none has 0 "
                          "GPUs, nvidia and amd at least 1")
    return settings


def _check_profile_fits(host: HostData, h: HostSettings, model: ModelFile, profile: str,
                        vendors: tuple[str, ...]) -> None:
    if h.gpu_vendor not in vendors:
        raise ConfigError(host.source("profile"), "profile",
                          f"profile {profile!r} of {model.path} serves on gpu_vendor "
                          f"{' or '.join(vendors)}, not {h.gpu_vendor!r}")
    if h.gpu_count < model.gpus:
        raise ConfigError(host.source("gpu_count"), "gpu_count",
                          f"{h.gpu_count} GPUs; {model.name} needs {model.gpus} "
                          f"({model.path}: gpus)")


# FLAGS AND ENVIRONMENT


def _merge(layers: Iterable[dict[str, Setting]]) -> dict[str, Setting]:
    """Later layers win; a name keeps the position where it first appeared."""
    out: dict[str, Setting] = {}
    for layer in layers:
        out.update(layer)
    return out


def _check_reserved_flags(flags: dict[str, Setting]) -> None:
    for name, setting in flags.items():
        if name in _RESERVED_FLAGS:
            raise ConfigError(setting.path, setting.key, f"--{name} is set by vllm-fleet from "
                              f"{_RESERVED_FLAGS[name]}; remove it here")


def _own_env(h: HostSettings, image: ImageFacts) -> dict[str, Setting]:
    """Offline serving from the deploy's caches: container paths, or host paths for a venv."""
    in_container = h.runtime == "container"
    values = {
        "HF_HUB_OFFLINE": "1",
        "HF_HOME": image.hf_home if in_container else _hf_cache(h),
        "VLLM_CACHE_ROOT": image.vllm_cache_root if in_container else _vllm_cache(h),
    }
    return {name: Setting(value, _OWN, name) for name, value in values.items()}


def _check_env_names(env: dict[str, Setting]) -> None:
    secrets = {"HF_TOKEN": "hf_token_file or HF_TOKEN on the controller",
               "VLLM_API_KEY": "vllm_api_key_file or VLLM_API_KEY on the controller"}
    for name, setting in env.items():
        if name in secrets:
            raise ConfigError(setting.path, setting.key, f"{name} is a secret: never in the "
                              f"repository; give it through {secrets[name]}")
        if setting.path != _OWN and name in ("HF_HUB_OFFLINE", "HF_HOME", "VLLM_CACHE_ROOT"):
            raise ConfigError(setting.path, setting.key, f"{name} is set by vllm-fleet (offline "
                              "serving from the caches the deploy fills); remove it here")


def _check_parallelism(host: HostData, h: HostSettings, flags: dict[str, Setting]) -> None:
    sizes = {name: _int_flag(flags, name) for name in (_TP, _PP, _DP, _DCP)}
    tp, pp, dp, dcp = sizes[_TP], sizes[_PP], sizes[_DP], sizes[_DCP]
    if tp % dcp:
        divisors = [str(d) for d in range(1, tp + 1) if tp % d == 0]
        where = flags[_DCP]
        raise ConfigError(where.path, where.key, f"{_DCP} {dcp} does not divide {_TP} {tp}; "
                          f"DCP shards the KV cache over the TP GPUs, so use one of "
                          f"{', '.join(divisors)}")
    if h.gpu_vendor == "none":
        return  # CPU: no GPUs to fit
    needed = tp * pp * dp
    if needed > h.gpu_count:
        origin = ", ".join(f"{flags[n].path}: {flags[n].key}" for n in (_TP, _PP, _DP)
                           if n in flags)
        raise ConfigError(host.source("gpu_count"), "gpu_count",
                          f"{h.gpu_count} GPUs cannot hold {_TP} {tp} x {_PP} {pp} x {_DP} "
                          f"{dp} = {needed} ({origin}); use a host with {needed} GPUs or "
                          "another profile")


def _int_flag(flags: dict[str, Setting], name: str) -> int:
    if name not in flags or flags[name].value is False:
        return 1
    setting = flags[name]
    value = setting.value
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit() \
            or int(value) < 1:
        raise ConfigError(setting.path, setting.key, f"expected a whole number >= 1, got "
                          f"{value!r}")
    return int(value)


def _check_visibility(env: dict[str, Setting]) -> None:
    if all(name in env for name in _VISIBILITY):
        hip, cuda = (env[name] for name in _VISIBILITY)
        raise ConfigError(cuda.path, cuda.key,
                          f"both HIP_VISIBLE_DEVICES ({hip.path}: {hip.key}) and "
                          f"CUDA_VISIBLE_DEVICES are set; vLLM on ROCm copies one into the "
                          "other and fails when they differ: set only one")


# VALIDATION AGAINST THE IMAGE


def _validate(flags: dict[str, Setting], env: dict[str, Setting], notes: dict[str, str],
              credentials: tuple[Credential, ...], image: ImageFacts, strict_env: bool,
              warnings: list[str]) -> Validation:
    """Check flags and vLLM variables against the manifest; collect what cannot be checked."""
    manifest = image.manifest
    version = image.vllm_version
    service_env = {c.env: Setting("(secret)", _OWN, c.name) for c in credentials
                   if c.container_path}
    checked_env = {**env, **service_env}
    unchecked = tuple(n for n in checked_env if not n.startswith("VLLM_"))
    for name, note in notes.items():
        setting = env.get(name)
        if setting is not None and not name.startswith("VLLM_"):
            warnings.append(f"{name}={setting.value} ({setting.path}: {setting.key}): not a "
                            f"vLLM variable, so no manifest can vouch for it; {note}")
    if manifest is None:
        if strict_env:
            raise ConfigError(image.own_manifest, "", f"strict_env: no manifest of an image "
                              f"with vLLM {version} to check the environment against")
        warnings.append(f"flags and environment NOT validated: no image manifest for vLLM "
                        f"{version} ({image.own_manifest} is missing and no other manifest "
                        f"has that version); build the cpu image (`invoke build --target cpu`)")
        return Validation(version, image.version_source, None, None, False,
                          f"not validated: no manifest for vLLM {version}", unchecked)
    for name, setting in flags.items():
        if setting.value is not False and not manifest.accepts_flag(f"--{name}"):
            close = difflib.get_close_matches(f"--{name}", manifest.serve_flags, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(setting.path, setting.key, f"vLLM {version} does not accept "
                              f"--{name} (checked against {image.manifest_path}){hint}")
    for name, setting in checked_env.items():
        if name.startswith("VLLM_") and not manifest.knows_env(name):
            _unknown_env(name, setting, notes.get(name), image, strict_env, warnings)
    stood_in = image.own_manifest if image.stood_in else None
    summary = f"validated against {image.manifest_path} (vLLM {version})"
    if stood_in:
        summary += (f", standing in for {stood_in}, which is missing (same vLLM version: "
                    "same serve flags and environment table)")
    return Validation(version, image.version_source, image.manifest_path, stood_in, True,
                      summary, unchecked)


def _unknown_env(name: str, setting: Setting, note: str | None, image: ImageFacts,
                 strict_env: bool, warnings: list[str]) -> None:
    problem = (f"{name}={setting.value} is not read by vLLM {image.vllm_version} (not in the "
               f"environment table of {image.manifest_path})")
    if note:
        problem += f"; {note}"
    if strict_env:
        raise ConfigError(setting.path, setting.key, problem + " (strict_env)")
    warnings.append(problem.replace(" is not read", f" ({setting.path}: {setting.key}) is not "
                                    "read", 1))


# WHAT THE RUNTIMES NEED


def _argv(model: ModelFile, port: int, flags: dict[str, Setting]) -> tuple[str, ...]:
    return ("vllm", "serve", model.repo_id, "--served-model-name", model.served_model_name,
            "--revision", model.revision, "--port", str(port), *flag_args(flags))


def flag_args(flags: dict[str, Setting]) -> tuple[str, ...]:
    """``vllm serve`` arguments from model-file flags (true: bare flag; false: left out)."""
    args: list[str] = []
    for name, setting in flags.items():
        if setting.value is True:
            args.append(f"--{name}")
        elif setting.value is not False:
            args += [f"--{name}", str(setting.value)]
    return tuple(args)


def _container_access(layers: Iterable[Any]) -> ContainerAccess:
    gpus = ipc = None
    devices: list[str] = []
    groups: list[str] = []
    for layer in layers:
        access = layer.container
        if access is None:
            continue
        gpus = access.gpus or gpus
        ipc = access.ipc or ipc
        devices += [d for d in access.devices if d not in devices]
        groups += [g for g in access.group_add if g not in groups]
    return ContainerAccess(gpus=gpus, ipc=ipc, devices=tuple(devices), group_add=tuple(groups))


def _check_gated(host: HostData, model: ModelFile, credentials: tuple[Credential, ...]) -> None:
    """A gated model cannot be downloaded without a token: stop before any host is touched."""
    if model.gated and not any(c.name == "hf_token" for c in credentials):
        raise ConfigError(model.path, "gated", f"{model.repo_id} is gated on the Hub and host "
                          f"{host.name} has no HF token: set HF_TOKEN on the controller or "
                          f"hf_token_file in {host.source('hf_token_file')}")


def _credentials(h: HostSettings, env_names: set[str]) -> tuple[Credential, ...]:
    secrets_dir = h.vllm_secrets_dir
    out = []
    hf = _secret_source(h.hf_token_file, "HF_TOKEN", env_names)
    if hf:
        out.append(Credential("hf_token", "HF_TOKEN", hf, f"{secrets_dir}/hf-token",
                              "weights download only: the server runs with HF_HUB_OFFLINE=1"))
    key = _secret_source(h.vllm_api_key_file, "VLLM_API_KEY", env_names)
    if key:
        out.append(Credential("vllm_api_key", "VLLM_API_KEY", key, f"{secrets_dir}/vllm-api-key",
                              "vllm serve (read from the file at start, exported as "
                              "VLLM_API_KEY)", container_path="/run/secrets/vllm-api-key"))
    return tuple(out)


def _secret_source(file: str | None, env: str, env_names: set[str]) -> str | None:
    if file:
        return f"file:{file}"
    return f"env:{env}" if env in env_names else None


def _volumes(h: HostSettings, image: ImageFacts, credentials: tuple[Credential, ...]
             ) -> tuple[Mount, ...]:
    if h.runtime != "container":
        return ()
    mounts = [Mount(_hf_cache(h), image.hf_home), Mount(_vllm_cache(h), image.vllm_cache_root)]
    mounts += [Mount(c.host_path, c.container_path, read_only=True) for c in credentials
               if c.container_path]
    return tuple(mounts)


def _hf_cache(h: HostSettings) -> str:
    return f"{h.vllm_data_dir}/huggingface"


def _vllm_cache(h: HostSettings) -> str:
    return f"{h.vllm_data_dir}/vllm-cache"


def _unit(h: HostSettings) -> UnitSettings:
    name = h.vllm_unit_name
    return UnitSettings(
        name=name,
        path=f"/etc/systemd/system/{name}.service",
        start_timeout_s=h.vllm_start_timeout_s,
        stop_grace_s=h.vllm_stop_grace_s,
        restart_delay_s=h.vllm_restart_delay_s,
        docker_bin=h.docker_bin if h.runtime == "container" else None,
        venv_dir=h.vllm_venv_dir if h.runtime == "venv" else None,
        supervision=supervision(h, container=h.runtime == "container"),
        confinement=venv_confinement(h) if h.runtime == "venv" else None,
    )


def _image_ref(host: HostData, h: HostSettings, image: ImageFacts, warnings: list[str]
               ) -> str | None:
    """The image to run: the host's reference, else the tag its own target's manifest records."""
    if h.runtime != "container":
        return None
    manifest = image.manifest
    if h.image is not None:
        ref = h.image
        if manifest is not None and not image.stood_in and not _names_image(manifest, ref):
            warnings.append(f"image {ref} ({host.source('image')}) is not the image "
                            f"{image.manifest_path} records ({', '.join(manifest.tags)}); "
                            "checked against that manifest's vLLM "
                            f"{manifest.vllm_version} anyway")
        return ref
    if manifest is not None and manifest.target == h.image_target and manifest.tags:
        return manifest.tags[0]
    where = host.sources.get("image", host.source("image_target"))
    raise ConfigError(where, "image", f"missing, and no manifest of a "
                      f"{h.image_target!r} image records a tag ({image.own_manifest}); set "
                      f"image or build it (`invoke build --target {h.image_target}`)")


def _names_image(manifest: ImageManifest, ref: str) -> bool:
    return ref in manifest.tags or ref in manifest.repo_digests or ref == manifest.image_id


def _fleet_warnings(host: HostData, h: HostSettings, flags: dict[str, Setting],
                    image_ref: str | None, credentials: tuple[Credential, ...],
                    warnings: list[str]) -> None:
    if image_ref and h.image_pull and "@sha256:" not in image_ref:
        warnings.append(f"image {image_ref} ({host.source('image')}) is pinned by tag only; "
                        "pin it by digest (name@sha256:...) so every host runs the same bytes")
    if not any(c.name == "vllm_api_key" for c in credentials):
        warnings.append(f"no API key (vllm_api_key_file or VLLM_API_KEY on the controller): "
                        f"the /v1 endpoints on port {h.vllm_port} are open to anyone who can "
                        "reach them")
    if h.gpu_vendor != "none":
        used = _int_flag(flags, _TP) * _int_flag(flags, _PP) * _int_flag(flags, _DP)
        if used < h.gpu_count:
            warnings.append(f"uses {used} of {h.gpu_count} GPUs ({host.source('gpu_count')}: "
                            "gpu_count)")


def _sources(flags: dict[str, Setting], env: dict[str, Setting]) -> tuple[tuple[str, str], ...]:
    """Where each flag and variable was written: ``--flag`` / ``NAME`` -> ``file: key``."""
    out = [(f"--{name}", f"{s.path}: {s.key}") for name, s in flags.items()]
    out += [(name, f"{s.path}: {s.key}" if s.path != _OWN else _OWN) for name, s in env.items()]
    return tuple(out)

