"""Confinement of the server that keeps GPU access working, each setting with its reason.

Container (`docker run` options): vLLM needs no Linux capability. GPUs reach it through the
NVIDIA runtime or the /dev/kfd and /dev/dri device nodes with the render/video groups, neither
of which is a capability, and it binds an unprivileged port. So every capability is dropped, and
no-new-privileges stops a setuid binary in the image from gaining any back.
(`--privileged`, SYS_PTRACE and seccomp=unconfined from vLLM's ROCm docs are debugging aids, not
needed to serve.)
"""

from __future__ import annotations

CONTAINER_OPTIONS: tuple[list[str], ...] = (
    ["--cap-drop", "ALL"],
    ["--security-opt", "no-new-privileges"],
)
