"""Merging a serve spec's layers: model file, profile, vendor/version layers, host data; plus
vllm-fleet's own layer (offline serving from the caches the deploy fills)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from vllm_fleet.hostdata import HostSettings
from vllm_fleet.serving.imagefacts import ImageFacts
from vllm_fleet.serving.models import ContainerAccess, Setting

# Set by vllm-fleet itself, never by a model file or host: the weights are downloaded by the
# deploy before the service starts, so vLLM runs offline with the caches the deploy mounts.
OWN = "vllm-fleet"


def merge(layers: Iterable[dict[str, Setting]]) -> dict[str, Setting]:
    """Later layers win; a name keeps the position where it first appeared."""
    out: dict[str, Setting] = {}
    for layer in layers:
        out.update(layer)
    return out


def own_env(h: HostSettings, image: ImageFacts) -> dict[str, Setting]:
    """Offline serving from the deploy's caches: container paths, or host paths for a venv."""
    in_container = h.runtime == "container"
    values = {
        "HF_HUB_OFFLINE": "1",
        "HF_HOME": image.hf_home if in_container else hf_cache(h),
        "VLLM_CACHE_ROOT": image.vllm_cache_root if in_container else vllm_cache(h),
    }
    return {name: Setting(value, OWN, name) for name, value in values.items()}


def container_access(layers: Iterable[Any]) -> ContainerAccess:
    """The device access the vendor/version layers ask for, merged in layer order."""
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


def hf_cache(h: HostSettings) -> str:
    """The HF cache folder on the host (HF_HOME), where the deploy downloads."""
    return f"{h.vllm_data_dir}/huggingface"


def vllm_cache(h: HostSettings) -> str:
    return f"{h.vllm_data_dir}/vllm-cache"
