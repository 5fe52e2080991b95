"""Serving settings a GPU vendor has not been shown to run correctly, refused until an operator
opts in by a host-data key; each with its reason."""

from __future__ import annotations

from pathlib import Path

from vllm_fleet.errors import ConfigError
from vllm_fleet.hostdata import HostSettings
from vllm_fleet.images.manifest import ImageManifest
from vllm_fleet.images.matrix import Matrix
from vllm_fleet.schema import load_yaml
from vllm_fleet.serving.inventory import HostData
from vllm_fleet.serving.models import Setting

# AMD's driver/ROCm pairings, as data with their sources.
AMD_COMPATIBILITY = Path(__file__).with_name("amdgpu-rocm.yaml")

DCP_FLAG = "decode-context-parallel-size"
# Kimi-K2's usage guide measures TP8 + DCP8 on H200 only and has no DCP on AMD; DCP with AITER
# MLA on gfx942 (MI300X) is recent upstream. Until a gsm8k run on MI300X passes the eval gate
# (benchmarks/eval-gates.yaml), DCP is not offered for gpu_vendor amd.
DCP_ON_AMD = (
    "decode context parallel is not verified on AMD: the usage guide has no DCP on "
    "AMD and upstream DCP with AITER MLA on gfx942 is recent; pass a gsm8k run on "
    "MI300X through the eval gate, then set amd_unverified_dcp = True for this host"
)


def check_vendor_support(host: HostData, h: HostSettings, flags: dict[str, Setting]) -> None:
    dcp = flags.get(DCP_FLAG)
    if h.gpu_vendor != "amd" or dcp is None or dcp.value in (False, 1, "1"):
        return
    if not h.amd_unverified_dcp:
        raise ConfigError(
            dcp.path,
            dcp.key,
            f"--{DCP_FLAG} {dcp.value} on host {host.name} "
            f"(gpu_vendor amd, {host.source('gpu_vendor')}): {DCP_ON_AMD}",
        )


def check_amd_driver(
    host: HostData, h: HostSettings, matrix: Matrix, image: ImageManifest | None = None
) -> None:
    """The host's amdgpu driver release must be one AMD pairs with the ROCm of its image: the
    ROCm its own manifest recorded from inside the image when there is one, else
    images/matrix.yaml rocm_version of the install mode the runtime uses."""
    if h.gpu_vendor != "amd":
        return
    target = matrix.target(h.image_target, install_mode="wheel" if h.runtime == "venv" else None)
    rocm = (image.rocm_version if image else None) or target.mode.get("rocm_version")
    where = host.source("amdgpu_repo_version")
    if rocm is None:
        raise ConfigError(
            matrix.path,
            f"targets.{h.image_target}.modes.{target.install_mode}",
            "no rocm_version: the amdgpu driver cannot be matched to the image's ROCm",
        )
    pairs = load_yaml(AMD_COMPATIBILITY)["drivers"]
    line = ".".join(str(rocm).split(".")[:2])
    if line not in pairs.get(h.amdgpu_repo_version, []):
        fitting = sorted(d for d, lines in pairs.items() if line in lines)
        raise ConfigError(
            where,
            "amdgpu_repo_version",
            f"driver {h.amdgpu_repo_version} is not paired with ROCm {rocm} (the "
            f"image {h.image_target}/{target.install_mode}) in AMD's "
            f"compatibility matrix ({AMD_COMPATIBILITY.name}); use "
            f"{' or '.join(fitting) or 'a driver listed there'}",
        )
