"""Confinement of the server that keeps GPU access working, each setting with its reason.

venv unit (systemd): a dedicated account in the GPU device groups, no privilege gain, the whole
file system read-only but the data folder, no home folders, a private /tmp. Left out on purpose:
PrivateDevices= (hides /dev/nvidia*, /dev/kfd and /dev/dri) and MemoryDenyWriteExecute= (Triton
and torch.compile write and run JIT code). The reasons are repeated in the unit.

Container (`docker run` options): vLLM needs no Linux capability. GPUs reach it through the
NVIDIA runtime or the /dev/kfd and /dev/dri device nodes with the render/video groups, neither
of which is a capability, and it binds an unprivileged port. So every capability is dropped, and
no-new-privileges stops a setuid binary in the image from gaining any back.
(`--privileged`, SYS_PTRACE and seccomp=unconfined from vLLM's ROCm docs are debugging aids, not
needed to serve.)
"""

from __future__ import annotations

from dataclasses import dataclass

from vllm_fleet.hostdata import HostSettings

CONTAINER_OPTIONS: tuple[list[str], ...] = (
    ["--cap-drop", "ALL"],
    ["--security-opt", "no-new-privileges"],
)

# GPU device nodes belong to these groups (NVIDIA's /dev/nvidia* are world-usable; AMD's /dev/kfd
# and /dev/dri/renderD* are render/video: ROCm prerequisites).
GPU_GROUPS = ("video", "render")


@dataclass(frozen=True)
class VenvConfinement:
    user: str
    supplementary_groups: tuple[str, ...]
    read_write_paths: tuple[str, ...]
    home: str


def venv_confinement(h: HostSettings) -> VenvConfinement:
    return VenvConfinement(
        user=h.vllm_service_user,
        supplementary_groups=GPU_GROUPS if h.gpu_vendor != "none" else (),
        read_write_paths=(h.vllm_data_dir,),
        home=f"{h.vllm_data_dir}/home",  # Triton and other caches under ~ land on the data disk
    )
