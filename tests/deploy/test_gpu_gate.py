"""The GPU admission gate: each check on canned tool output (stand-ins for real GPUs: no GPU can
be reached here), and through the real deploy on a ``@fake`` H200 host: a failed check stops that
host before its service is touched, and the heavy checks' exact commands."""

from __future__ import annotations

import json
from pathlib import Path

from vllm_fleet.deploy.gpugate import amd_problems, nvidia_problems

from .plan_harness import operations, run_deploy, write_inventory

PLANS = Path(__file__).parent / "plans"
HEALTHY = [
    dict(
        index=str(i),
        uuid=f"GPU-{i}",
        persistence_mode="Enabled",
        **{
            "ecc.errors.uncorrected.volatile.total": "0",
            "retired_pages.pending": "[N/A]",
            "remapped_rows.pending": "No",
            "remapped_rows.failure": "No",
        },
    )
    for i in range(8)
]
FABRIC_OK = [{"State": "Completed", "Status": "Success"}] * 8


def test_a_healthy_h200_passes() -> None:
    assert nvidia_problems(HEALTHY, 8, FABRIC_OK, []) == []


def test_each_nvidia_check_names_itself() -> None:
    sick = [dict(g) for g in HEALTHY[:7]]
    sick[1]["persistence_mode"] = "Disabled"
    sick[2]["ecc.errors.uncorrected.volatile.total"] = "3"
    sick[3]["remapped_rows.pending"] = "Yes"
    fabric = [*FABRIC_OK[:6], {"State": "In Progress", "Status": "N/A"}]
    xid = "NVRM: Xid (PCI:0000:18:00): 79, pid=1, GPU has fallen off the bus."
    assert nvidia_problems(sick, 8, fabric, [xid]) == [
        "gpu count: nvidia-smi sees 7 GPUs, gpu_count is 8",
        "persistence mode: GPU 1 (GPU-1) persistence_mode=Disabled",
        "uncorrectable ECC: GPU 2 (GPU-2) ecc.errors.uncorrected.volatile.total=3",
        "memory repair: GPU 3 (GPU-3) remapped_rows.pending=Yes (reset the GPU or drain the host)",
        "fabric manager: 7 GPUs report a fabric state, not Completed/Success: GPU 6: "
        "In Progress/N/A",
        f"xid errors: 1 since boot, first: {xid}",
    ]


def test_fabric_manager_is_checked_only_on_nvswitch_boards() -> None:
    assert nvidia_problems(HEALTHY, 8, None, []) == []


def test_amd_checks() -> None:
    gpus = [{"gpu": str(i)} for i in range(8)]
    ecc = {str(i): {"TOTAL_UNCORRECTABLE_COUNT": 0} for i in range(8)}
    assert amd_problems(gpus, 8, ecc) == []
    ecc["5"] = {"TOTAL_UNCORRECTABLE_COUNT": 2, "TOTAL_CORRECTABLE_COUNT": None}
    assert amd_problems(gpus[:6], 8, ecc) == [
        "gpu count: amd-smi sees 6 GPUs, gpu_count is 8",
        "uncorrectable RAS: GPU 5 TOTAL_UNCORRECTABLE_COUNT=2",
    ]


def _h200_in_place(tmp_path: Path, data: dict, responses: dict) -> tuple[str, dict]:
    case = json.loads((PLANS / "nvidia-driver-in-place.json").read_text())
    inventory = write_inventory(
        tmp_path,
        case["group"],
        case["host"],
        case["distro"],
        data,
        {**case["responses"], **responses},
    )
    result = run_deploy(inventory)
    output = result.stdout + result.stderr
    return output, operations(output)


def test_an_xid_stops_the_host_before_its_service(tmp_path: Path) -> None:
    xid = "NVRM: Xid (PCI:0000:18:00): 79, pid=1234, name=python3, GPU has fallen off the bus."
    output, ops = _h200_in_place(tmp_path, {}, {"NVRM: Xid": [xid]})
    assert "GPU admission gate failed:" in output
    assert f"xid errors: 1 since boot, first: {xid}" in output
    assert not any(name.startswith("vLLM service |") for name in ops), list(ops)


def test_deep_checks_run_their_exact_commands(tmp_path: Path) -> None:
    _, ops = _h200_in_place(tmp_path, {"gpu_deep_checks": True}, {})
    assert ops["GPU admission gate | GPU admission: dcgmi diag -r 2"] == ["dcgmi diag -r 2"]
    assert ops["GPU admission gate | GPU admission: all_reduce_perf"] == [
        "/usr/local/bin/all_reduce_perf -b 8 -e 8G -f 2 -g 8 2>&1 | tee /dev/stderr "
        "| grep -q 'Out of bounds values : 0 OK'"
    ]
    names = list(ops)
    assert names.index("GPU admission gate | GPU admission: all_reduce_perf") < names.index(
        "vLLM service | Start vllm-serve.service"
    )
