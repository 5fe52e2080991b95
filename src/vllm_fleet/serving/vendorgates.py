"""Serving settings a GPU vendor has not been shown to run correctly, refused until an operator
opts in by a host-data key; each with its reason."""

from __future__ import annotations

from vllm_fleet.errors import ConfigError
from vllm_fleet.hostdata import HostSettings
from vllm_fleet.serving.inventory import HostData
from vllm_fleet.serving.models import Setting

DCP_FLAG = "decode-context-parallel-size"
# Kimi-K2's usage guide measures TP8 + DCP8 on H200 only and has no DCP on AMD; DCP with AITER
# MLA on gfx942 (MI300X) is recent upstream. Until a gsm8k run on MI300X passes the eval gate
# (benchmarks/eval-gates.yaml), DCP is not offered for gpu_vendor amd.
DCP_ON_AMD = ("decode context parallel is not verified on AMD: the usage guide has no DCP on "
              "AMD and upstream DCP with AITER MLA on gfx942 is recent; pass a gsm8k run on "
              "MI300X through the eval gate, then set amd_unverified_dcp = True for this host")


def check_vendor_support(host: HostData, h: HostSettings, flags: dict[str, Setting]) -> None:
    dcp = flags.get(DCP_FLAG)
    if h.gpu_vendor != "amd" or dcp is None or dcp.value in (False, 1, "1"):
        return
    if not h.amd_unverified_dcp:
        raise ConfigError(dcp.path, dcp.key, f"--{DCP_FLAG} {dcp.value} on host {host.name} "
                          f"(gpu_vendor amd, {host.source('gpu_vendor')}): {DCP_ON_AMD}")
