"""The GPU admission gate: before the service (re)starts, the host's GPUs must be fit to serve.

Light checks, always (facts in vllm_fleet.deploy.gpufacts, read while pyinfra prepares):
NVIDIA: nvidia-smi sees gpu_count GPUs, persistence mode on, no uncorrectable ECC error, no page
retirement or row remap pending or failed, Fabric Manager "Completed" on NVSwitch boards, no Xid
in the kernel log since boot. AMD: amd-smi sees gpu_count GPUs, no uncorrectable ECC (RAS) error.

Heavy checks, with host data gpu_deep_checks: NVIDIA DCGM's diagnostic (`dcgmi diag -r 2`) and
an all-reduce over every GPU (nccl-tests / rccl-tests `all_reduce_perf`).

A failed check fails this host's deploy (an operation error naming the check and its output)
before the service is touched; pyinfra carries on with the other hosts. Skipped while the driver
itself changes in this run: the GPUs are not usable before the reboot.
"""

from __future__ import annotations

from pyinfra import host, logger
from pyinfra.api import deploy
from pyinfra.api.exceptions import OperationError
from pyinfra.operations import python, server

from vllm_fleet.deploy.context import host_settings, host_spec
from vllm_fleet.deploy.gpufacts import (
    AmdEccCounts,
    AmdGpus,
    FabricManagerStates,
    NvidiaGpus,
    XidErrors,
)

# NCCL/RCCL tests: 8 B to 8 GB messages, doubling, one process over all GPUs; "Out of bounds
# values : 0 OK" is their own data check (NVIDIA/nccl-tests README, "Arguments" and "Results").
ALL_REDUCE_CHECK = "grep -q 'Out of bounds values : 0 OK'"


@deploy("GPU admission gate")
def admit_gpus(driver_pending: bool) -> None:
    spec = host_spec()
    if spec.gpu_vendor == "none":
        return
    if driver_pending:
        logger.warning(
            f"    [{host.name}] GPU admission gate skipped: the driver changes in this run"
        )
        return
    settings = host_settings()
    if spec.gpu_vendor == "nvidia":
        problems = nvidia_problems(
            host.get_fact(NvidiaGpus),
            spec.gpu_count,
            host.get_fact(FabricManagerStates) if settings.nvidia_nvswitch else None,
            host.get_fact(XidErrors),
        )
    else:
        problems = amd_problems(host.get_fact(AmdGpus), spec.gpu_count, host.get_fact(AmdEccCounts))
    python.call(
        name=f"GPU admission: {spec.gpu_count} {spec.gpu_vendor} GPUs fit to serve",
        function=refuse_if_any,
        problems=problems,
    )
    if settings.gpu_deep_checks:
        for name, command in deep_checks(spec.gpu_vendor, spec.gpu_count).items():
            server.shell(name=f"GPU admission: {name}", commands=[command])


def refuse_if_any(problems: list[str]) -> None:
    if problems:
        raise OperationError("GPU admission gate failed:\n  " + "\n  ".join(problems))


def deep_checks(vendor: str, gpus: int) -> dict[str, str]:
    """Check name -> the exact host command (fails on a non-zero exit)."""
    all_reduce = (
        f"{host_settings().all_reduce_perf} -b 8 -e 8G -f 2 -g {gpus} 2>&1 "
        f"| tee /dev/stderr | {ALL_REDUCE_CHECK}"
    )
    checks = {"all_reduce_perf": all_reduce}
    if vendor == "nvidia":
        # Level 2: medium (about 2 minutes), NVIDIA DCGM diagnostics documentation.
        checks = {"dcgmi diag -r 2": "dcgmi diag -r 2", **checks}
    return checks


def nvidia_problems(
    gpus: list[dict[str, str]], expected: int, fabric: list[dict[str, str]] | None, xids: list[str]
) -> list[str]:
    problems = []
    if len(gpus) != expected:
        problems.append(f"gpu count: nvidia-smi sees {len(gpus)} GPUs, gpu_count is {expected}")
    for gpu in gpus:
        which = f"GPU {gpu['index']} ({gpu['uuid']})"
        if gpu["persistence_mode"] != "Enabled":
            problems.append(f"persistence mode: {which} persistence_mode={gpu['persistence_mode']}")
        ecc = gpu["ecc.errors.uncorrected.volatile.total"]
        if ecc.isdigit() and int(ecc) > 0:
            problems.append(
                f"uncorrectable ECC: {which} ecc.errors.uncorrected.volatile.total={ecc}"
            )
        for field in ("retired_pages.pending", "remapped_rows.pending", "remapped_rows.failure"):
            if gpu[field] == "Yes":
                problems.append(
                    f"memory repair: {which} {field}=Yes (reset the GPU or drain the host)"
                )
    if fabric is not None:
        bad = [
            f"GPU {i}: {s.get('State')}/{s.get('Status')}"
            for i, s in enumerate(fabric)
            if s.get("State") != "Completed" or s.get("Status") != "Success"
        ]
        if bad or len(fabric) != expected:
            problems.append(
                f"fabric manager: {len(fabric)} GPUs report a fabric state, "
                f"not Completed/Success: {', '.join(bad) or 'none listed'}"
            )
    if xids:
        problems.append(f"xid errors: {len(xids)} since boot, first: {xids[0]}")
    return problems


def amd_problems(
    gpus: list[dict[str, str]], expected: int, ecc: dict[str, dict[str, int | None]]
) -> list[str]:
    problems = []
    if len(gpus) != expected:
        problems.append(f"gpu count: amd-smi sees {len(gpus)} GPUs, gpu_count is {expected}")
    for gpu, counts in ecc.items():
        uncorrectable = counts.get("TOTAL_UNCORRECTABLE_COUNT")
        if uncorrectable:
            problems.append(
                f"uncorrectable RAS: GPU {gpu} TOTAL_UNCORRECTABLE_COUNT={uncorrectable}"
            )
    return problems
