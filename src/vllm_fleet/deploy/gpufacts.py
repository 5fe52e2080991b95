"""Facts the GPU admission gate reads (vllm_fleet.deploy.gpugate): command output in, fact out.

Each parser follows the tool's documented output, cited beside it; the tests feed it canned
outputs of that shape (tests/deploy/facts/).
"""

from __future__ import annotations

import re

from pyinfra.api import FactBase

# nvidia-smi --query-gpu fields, in this order (their names and values: `nvidia-smi
# --help-query-gpu`; https://docs.nvidia.com/deploy/nvidia-smi/index.html). H100/H200 retire no
# pages (they remap rows), so retired_pages.pending reads "[N/A]" there.
NVIDIA_FIELDS = (
    "index",
    "uuid",
    "persistence_mode",
    "ecc.errors.uncorrected.volatile.total",
    "retired_pages.pending",
    "remapped_rows.pending",
    "remapped_rows.failure",
)


class NvidiaGpus(FactBase):
    """One dict per GPU ``nvidia-smi`` sees (NVIDIA_FIELDS -> value); [] without nvidia-smi."""

    @staticmethod
    def default() -> list:
        return []

    def command(self) -> str:
        return (
            f"nvidia-smi --query-gpu={','.join(NVIDIA_FIELDS)} --format=csv,noheader "
            "2>/dev/null || true"
        )

    def process(self, output: list[str]) -> list[dict[str, str]]:
        gpus = []
        for line in output:
            values = [v.strip() for v in line.split(",")]
            if len(values) == len(NVIDIA_FIELDS):
                gpus.append(dict(zip(NVIDIA_FIELDS, values, strict=True)))
        return gpus


class FabricManagerStates(FactBase):
    """The Fabric state of each GPU (``nvidia-smi -q``, section "Fabric": State and Status). On
    NVSwitch boards every GPU must read "Completed" / "Success" before CUDA can start (NVIDIA
    Fabric Manager User Guide, "Verifying the Fabric Manager status")."""

    @staticmethod
    def default() -> list:
        return []

    def command(self) -> str:
        return "nvidia-smi -q 2>/dev/null | grep -A 2 -E '^ +Fabric$' || true"

    def process(self, output: list[str]) -> list[dict[str, str]]:
        states: list[dict[str, str]] = []
        for line in output:
            name, _, value = (part.strip() for part in line.partition(":"))
            if name == "Fabric":
                states.append({})
            elif states and name in ("State", "Status"):
                states[-1][name] = value
        return states


class XidErrors(FactBase):
    """Kernel log lines of NVIDIA Xid errors since boot ("NVRM: Xid (PCI:...): <code>, ...";
    https://docs.nvidia.com/deploy/xid-errors/)."""

    @staticmethod
    def default() -> list:
        return []

    def command(self) -> str:
        return "journalctl -k -b --no-pager -o cat 2>/dev/null | grep -F 'NVRM: Xid' || true"

    def process(self, output: list[str]) -> list[str]:
        return [line.strip() for line in output if "NVRM: Xid" in line]


class AmdGpus(FactBase):
    """The GPUs ``amd-smi list`` sees: their "GPU: <n>" lines and BDFs (ROCm/amdsmi,
    docs/how-to/amdsmi-cli-tool.md)."""

    @staticmethod
    def default() -> list:
        return []

    def command(self) -> str:
        return "amd-smi list 2>/dev/null || true"

    def process(self, output: list[str]) -> list[dict[str, str]]:
        gpus: list[dict[str, str]] = []
        for line in output:
            name, _, value = (part.strip() for part in line.partition(":"))
            if name == "GPU" and value.isdigit():
                gpus.append({"gpu": value})
            elif gpus and name == "BDF":
                gpus[-1]["bdf"] = value
        return gpus


class AmdEccCounts(FactBase):
    """Per GPU, ``amd-smi metric --ecc``'s ECC totals (TOTAL_UNCORRECTABLE_COUNT, ...) as ints,
    or None where it prints N/A. Output shape: "GPU: 0" / "    ECC:" / "        NAME: value"
    (ROCm/amdsmi CHANGELOG, "Added deferred ecc counts")."""

    @staticmethod
    def default() -> dict:
        return {}

    def command(self) -> str:
        return "amd-smi metric --ecc 2>/dev/null || true"

    def process(self, output: list[str]) -> dict[str, dict[str, int | None]]:
        counts: dict[str, dict[str, int | None]] = {}
        gpu = None
        for line in output:
            name, _, value = (part.strip() for part in line.partition(":"))
            if name == "GPU":
                gpu = value
                counts[gpu] = {}
            elif gpu is not None and re.fullmatch(r"[A-Z_]+_COUNT", name):
                counts[gpu][name] = int(value) if value.isdigit() else None
        return counts
