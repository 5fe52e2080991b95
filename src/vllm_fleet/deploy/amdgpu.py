"""AMD host tuning beyond the packages, from AMD's MI300X system optimization guide
(https://rocm.docs.amd.com/en/latest/how-to/system-optimization/mi300x.html): IOMMU
pass-through on the kernel command line, and no deep CPU idle states. (The driver's pairing with
the image's ROCm is checked with the serve spec: vllm_fleet.serving.vendorgates.)"""

from __future__ import annotations

import io

from pyinfra import host
from pyinfra.facts.server import Command
from pyinfra.operations import files, server, systemd

GRUB_DROP_IN = "/etc/default/grub.d/vllm-fleet-iommu.cfg"
KERNEL_ARGS = "iommu=pt"
CPU_IDLE_UNIT = "vllm-fleet-cpu-idle.service"


def iommu_passthrough() -> bool:
    """iommu=pt on the kernel command line (a GRUB drop-in). True when the running kernel does
    not have it yet: it takes effect at the next boot, which the caller gates like a driver."""
    drop_in = files.put(
        name=f"Kernel command line: {KERNEL_ARGS} (MI300X guide)",
        src=io.StringIO(
            f'GRUB_CMDLINE_LINUX_DEFAULT="$GRUB_CMDLINE_LINUX_DEFAULT {KERNEL_ARGS}"\n'
        ),
        dest=GRUB_DROP_IN,
        mode="0644",
        create_remote_dir=True,
    )
    server.shell(name="update-grub", commands=["update-grub"], _if=drop_in.did_change)
    cmdline = host.get_fact(Command, "cat /proc/cmdline") or ""
    return KERNEL_ARGS not in cmdline.split()


def shallow_cpu_idle() -> None:
    """Disable the deep CPU idle state (cpupower idle-set -d 2) at every boot: waking from it
    adds latency to the CPU side of each GPU launch (MI300X guide, "CPU core states")."""
    unit = files.put(
        name=f"Unit {CPU_IDLE_UNIT}",
        src=io.StringIO(
            "[Unit]\nDescription=Keep CPUs out of deep idle states (AMD MI300X system "
            "optimization guide)\n\n[Service]\nType=oneshot\nRemainAfterExit=yes\n"
            "ExecStart=/usr/bin/cpupower idle-set -d 2\n\n[Install]\n"
            "WantedBy=multi-user.target\n"
        ),
        dest=f"/etc/systemd/system/{CPU_IDLE_UNIT}",
        mode="0644",
    )
    systemd.daemon_reload(name="Reload systemd units (CPU idle)", _if=unit.did_change)
    systemd.service(
        name=f"{CPU_IDLE_UNIT} running and enabled",
        service=CPU_IDLE_UNIT,
        running=True,
        enabled=True,
    )
