"""AMD host pieces beyond the packages: the driver matched to the image's ROCm (AMD's
compatibility matrix, kept as data in amdgpu-rocm.yaml) and the MI300X host tuning of AMD's
system optimization guide (https://rocm.docs.amd.com/en/latest/how-to/system-optimization/
mi300x.html): IOMMU pass-through on the kernel command line, and no deep CPU idle states."""

from __future__ import annotations

import io
from pathlib import Path

from pyinfra import host
from pyinfra.facts.server import Command
from pyinfra.operations import files, server, systemd

from vllm_fleet.deploy.context import fail, host_settings
from vllm_fleet.images.matrix import Matrix
from vllm_fleet.schema import load_yaml

COMPATIBILITY = Path(__file__).with_name("amdgpu-rocm.yaml")
GRUB_DROP_IN = "/etc/default/grub.d/vllm-fleet-iommu.cfg"
KERNEL_ARGS = "iommu=pt"
CPU_IDLE_UNIT = "vllm-fleet-cpu-idle.service"


def check_driver_matches_image(image_target: str, install_mode: str | None) -> None:
    """Stop before any change when the amdgpu release is not paired with the image's ROCm."""
    target = Matrix().target(image_target, install_mode=install_mode)
    rocm = target.mode.get("rocm_version")
    if rocm is None:
        fail(f"images/matrix.yaml: targets.{image_target}.modes.{target.install_mode} has no "
             "rocm_version, so the amdgpu driver cannot be matched to the image's ROCm")
    driver = host_settings().amdgpu_repo_version
    pairs = load_yaml(COMPATIBILITY)["drivers"]
    line = ".".join(str(rocm).split(".")[:2])
    if line not in pairs.get(driver, []):
        fitting = sorted(d for d, lines in pairs.items() if line in lines)
        fail(f"amdgpu_repo_version: driver {driver} is not paired with ROCm {rocm} (the image "
             f"{image_target}/{target.install_mode}) in AMD's compatibility matrix "
             f"({COMPATIBILITY.name}); use {' or '.join(fitting) or 'a driver listed there'}")


def iommu_passthrough() -> bool:
    """iommu=pt on the kernel command line (a GRUB drop-in). True when the running kernel does
    not have it yet: it takes effect at the next boot, which the caller gates like a driver."""
    drop_in = files.put(name=f"Kernel command line: {KERNEL_ARGS} (MI300X guide)",
                        src=io.StringIO('GRUB_CMDLINE_LINUX_DEFAULT="$GRUB_CMDLINE_LINUX_DEFAULT '
                                        f'{KERNEL_ARGS}"\n'),
                        dest=GRUB_DROP_IN, mode="0644", create_remote_dir=True)
    server.shell(name="update-grub", commands=["update-grub"], _if=drop_in.did_change)
    cmdline = host.get_fact(Command, "cat /proc/cmdline") or ""
    return KERNEL_ARGS not in cmdline.split()


def shallow_cpu_idle() -> None:
    """Disable the deep CPU idle state (cpupower idle-set -d 2) at every boot: waking from it
    adds latency to the CPU side of each GPU launch (MI300X guide, "CPU core states")."""
    unit = files.put(name=f"Unit {CPU_IDLE_UNIT}", src=io.StringIO(
        "[Unit]\nDescription=Keep CPUs out of deep idle states (AMD MI300X system "
        "optimization guide)\n\n[Service]\nType=oneshot\nRemainAfterExit=yes\n"
        "ExecStart=/usr/bin/cpupower idle-set -d 2\n\n[Install]\n"
        "WantedBy=multi-user.target\n"), dest=f"/etc/systemd/system/{CPU_IDLE_UNIT}",
        mode="0644")
    systemd.daemon_reload(name="Reload systemd units (CPU idle)", _if=unit.did_change)
    systemd.service(name=f"{CPU_IDLE_UNIT} running and enabled", service=CPU_IDLE_UNIT,
                    running=True, enabled=True)
