"""Semantic checks of a merged serve spec: cross-key host data, the profile fits the host,
parallelism fits the GPUs, one visibility variable, reserved flags and variables, gated models.
Each raises one ConfigError naming the file and field that must change."""

from __future__ import annotations

from typing import TYPE_CHECKING

from vllm_fleet.errors import ConfigError
from vllm_fleet.hostchecks import FIRST_USER_PORT
from vllm_fleet.hostdata import HostSettings, require_serving_keys, settings_for
from vllm_fleet.serving.inventory import HostData
from vllm_fleet.serving.layers import OWN
from vllm_fleet.serving.models import ModelFile, Setting
from vllm_fleet.serving.secretnames import HF_TOKEN_ENV
from vllm_fleet.serving.supervision import SHUTDOWN_FLAG

if TYPE_CHECKING:
    from vllm_fleet.serving.derive import Credential

_RESERVED_FLAGS = {
    "served-model-name": "served_model_name in the model file",
    "revision": "revision in the model file",
    "port": "vllm_port in the host data",
    SHUTDOWN_FLAG: "vllm_stop_grace_s in the host data",
}
# vLLM's parallelism flags: their product must fit the host's GPUs; DCP reuses the TP GPUs.
TP, PP, DP, DCP = (
    "tensor-parallel-size",
    "pipeline-parallel-size",
    "data-parallel-size",
    "decode-context-parallel-size",
)
# ROCm vLLM copies HIP_VISIBLE_DEVICES into CUDA_VISIBLE_DEVICES and raises if both differ.
_VISIBILITY = ("HIP_VISIBLE_DEVICES", "CUDA_VISIBLE_DEVICES")


def host_values(host: HostData) -> HostSettings:
    """The host's data, typed and checked by the schema, plus the checks across keys."""
    settings = settings_for(host)
    if settings.model is None:
        raise ConfigError(
            host.source("model"),
            "model",
            f"missing: host {host.name} serves no model, so there is nothing to resolve",
        )
    require_serving_keys(host, settings)
    if (settings.gpu_vendor == "none") != (settings.gpu_count == 0):
        raise ConfigError(
            host.source("gpu_count"),
            "gpu_count",
            f"{settings.gpu_count} does not match gpu_vendor "
            f"{settings.gpu_vendor!r} ({host.source('gpu_vendor')}): none has 0 "
            "GPUs, nvidia and amd at least 1",
        )
    if settings.vllm_port < FIRST_USER_PORT and not settings.allow_system_port:
        raise ConfigError(
            host.source("vllm_port"),
            "vllm_port",
            f"{settings.vllm_port} is a well-known system port (below "
            f"{FIRST_USER_PORT}, e.g. 22 is ssh); use {FIRST_USER_PORT}-65535, or "
            "set allow_system_port: true if vLLM really belongs there",
        )
    return settings


def check_profile_fits(
    host: HostData, h: HostSettings, model: ModelFile, profile: str, vendors: tuple[str, ...]
) -> None:
    if h.gpu_vendor not in vendors:
        raise ConfigError(
            host.source("profile"),
            "profile",
            f"profile {profile!r} of {model.path} serves on gpu_vendor "
            f"{' or '.join(vendors)}, not {h.gpu_vendor!r}",
        )
    if h.gpu_count < model.gpus:
        raise ConfigError(
            host.source("gpu_count"),
            "gpu_count",
            f"{h.gpu_count} GPUs; {model.name} needs {model.gpus} ({model.path}: gpus)",
        )


def check_reserved_flags(flags: dict[str, Setting]) -> None:
    for name, setting in flags.items():
        if name in _RESERVED_FLAGS:
            raise ConfigError(
                setting.path,
                setting.key,
                f"--{name} is set by vllm-fleet from {_RESERVED_FLAGS[name]}; remove it here",
            )


def check_env_names(env: dict[str, Setting]) -> None:
    for name, setting in env.items():
        if setting.path != OWN and name in ("HF_HUB_OFFLINE", "HF_HOME", "VLLM_CACHE_ROOT"):
            raise ConfigError(
                setting.path,
                setting.key,
                f"{name} is set by vllm-fleet (offline "
                "serving from the caches the deploy fills); remove it here",
            )


def check_parallelism(host: HostData, h: HostSettings, flags: dict[str, Setting]) -> None:
    sizes = {name: int_flag(flags, name) for name in (TP, PP, DP, DCP)}
    tp, pp, dp, dcp = sizes[TP], sizes[PP], sizes[DP], sizes[DCP]
    if tp % dcp:
        divisors = [str(d) for d in range(1, tp + 1) if tp % d == 0]
        where = flags[DCP]
        raise ConfigError(
            where.path,
            where.key,
            f"{DCP} {dcp} does not divide {TP} {tp}; "
            f"DCP shards the KV cache over the TP GPUs, so use one of "
            f"{', '.join(divisors)}",
        )
    if h.gpu_vendor == "none":
        return  # CPU: no GPUs to fit
    needed = tp * pp * dp
    if needed > h.gpu_count:
        origin = ", ".join(f"{flags[n].path}: {flags[n].key}" for n in (TP, PP, DP) if n in flags)
        raise ConfigError(
            host.source("gpu_count"),
            "gpu_count",
            f"{h.gpu_count} GPUs cannot hold {TP} {tp} x {PP} {pp} x {DP} "
            f"{dp} = {needed} ({origin}); use a host with {needed} GPUs or "
            "another profile",
        )


def int_flag(flags: dict[str, Setting], name: str) -> int:
    """A whole-number flag's value (1 when unset or false)."""
    if name not in flags or flags[name].value is False:
        return 1
    setting = flags[name]
    value = setting.value
    if (
        isinstance(value, bool)
        or not isinstance(value, int | str)
        or not str(value).isdigit()
        or int(value) < 1
    ):
        raise ConfigError(setting.path, setting.key, f"expected a whole number >= 1, got {value!r}")
    return int(value)


def check_visibility(env: dict[str, Setting]) -> None:
    if all(name in env for name in _VISIBILITY):
        hip, cuda = (env[name] for name in _VISIBILITY)
        raise ConfigError(
            cuda.path,
            cuda.key,
            f"both HIP_VISIBLE_DEVICES ({hip.path}: {hip.key}) and "
            f"CUDA_VISIBLE_DEVICES are set; vLLM on ROCm copies one into the "
            "other and fails when they differ: set only one",
        )


def check_gated(host: HostData, model: ModelFile, credentials: tuple[Credential, ...]) -> None:
    """A gated model cannot be downloaded without a token: stop before any host is touched."""
    if model.gated and not any(c.name == "hf_token" for c in credentials):
        raise ConfigError(
            model.path,
            "gated",
            f"{model.repo_id} is gated on the Hub and host "
            f"{host.name} has no HF token: set {HF_TOKEN_ENV} on the controller "
            f"or hf_token_file in {host.source('hf_token_file')}",
        )
