"""GPU drivers: NVIDIA (CUDA repository, pinned branch, Fabric Manager on NVSwitch boards,
persistence daemon, Container Toolkit) or AMD (ROCm repositories, amdgpu-dkms, render/video
groups, NUMA balancing off). Vendor ``none``: nothing. A driver change that needs a reboot is
reported; the host reboots only with ``--data reboot=true``.

Shaped like NVIDIA's ansible-role-nvidia-driver: a dispatcher picks the vendor path from facts,
each path is a short list of repository, package and service steps, knobs are host data.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from pyinfra import host, logger
from pyinfra.api import deploy
from pyinfra.api.operation import OperationMeta
from pyinfra.facts.deb import DebPackages
from pyinfra.facts.server import Command, KernelVersion, LinuxDistribution
from pyinfra.operations import apt, files, server, systemd

from vllm_fleet.deploy.amdgpu import (
    KERNEL_ARGS,
    iommu_passthrough,
    shallow_cpu_idle,
)
from vllm_fleet.deploy.context import fail, host_settings, host_spec
from vllm_fleet.deploy.facts import CommandStatus

KEYRINGS = "/etc/apt/keyrings"
DOWNLOADS = "/var/cache/vllm-fleet"


@deploy("GPU drivers")
def install_drivers() -> bool:
    """Install or check the drivers; True when the GPUs wait for a reboot (a driver or a
    boot-time setting changes in this run)."""
    vendor = host_spec().gpu_vendor
    if vendor == "none":
        return False
    release = _supported_release()
    # AMD: the driver's pairing with the image's ROCm was checked with the serve spec
    # (vllm_fleet.serving.vendorgates), before any host was touched.
    driver = _nvidia(release) if vendor == "nvidia" else _amd(release)
    _reboot_if_asked(driver, vendor)
    return bool(driver.installs or driver.reboot_for)


def _supported_release() -> dict[str, str]:
    distro = host.get_fact(LinuxDistribution)
    version = (
        f"{distro['major']}.{distro['minor']:02d}"
        if distro.get("minor") is not None
        else str(distro.get("major"))
    )
    supported = host_settings().driver_distros
    if distro.get("name") != "Ubuntu" or version not in supported:
        fail(
            f"driver_distros: GPU drivers are installed on Ubuntu {', '.join(supported)}; "
            f"this host runs {distro.get('name')} {version}"
        )
    return supported[version]


def _packages(names: list[str], branch: str = "") -> list[str]:
    return [name.format(branch=branch) for name in names]


def _nvidia(release: dict[str, str]):
    settings = host_settings()
    branch = settings.nvidia_driver_branch
    repo = f"{settings.nvidia_cuda_repo_url}/{release['cuda']}/x86_64"
    keyring_deb = f"{DOWNLOADS}/{settings.nvidia_cuda_keyring_deb}"
    files.directory(name=f"Directory {DOWNLOADS}", path=DOWNLOADS, mode="0755")
    fetched = files.download(
        name="NVIDIA CUDA repository keyring package",
        src=f"{repo}/{settings.nvidia_cuda_keyring_deb}",
        dest=keyring_deb,
    )
    keyring = apt.deb(
        name="Install the CUDA repository keyring", src=keyring_deb, _if=fetched.did_change
    )
    toolkit_key = f"{KEYRINGS}/nvidia-container-toolkit.asc"
    toolkit_url = settings.nvidia_toolkit_repo_url
    files.download(
        name="NVIDIA Container Toolkit key",
        src=f"{toolkit_url}/gpgkey",
        dest=toolkit_key,
        mode="0644",
    )
    toolkit_repo = apt.repo(
        name="NVIDIA Container Toolkit repository",
        src=f"deb [signed-by={toolkit_key}] {toolkit_url}/stable/deb/$(ARCH) /",
        filename="nvidia-container-toolkit",
    )
    pinning = apt.packages(
        name=f"Lock the NVIDIA driver to branch {branch}",
        packages=_packages(settings.nvidia_driver_pinning, branch),
        **apt_update_after(keyring, toolkit_repo),
    )
    flavour = settings.nvidia_kernel_modules
    locked = _packages(settings.nvidia_driver_packages[flavour], branch)
    if settings.nvidia_nvswitch:
        locked += _packages(settings.nvidia_nvswitch_packages, branch)
    # One transaction, so the driver and Fabric Manager come at the same version.
    driver = _driver_packages(
        f"NVIDIA driver {branch} ({flavour} kernel modules)",
        locked + _kernel_headers(),
        keyring,
        toolkit_repo,
        pinning,
        extra_install_args="--allow-change-held-packages",
    )
    _hold(locked)
    apt.packages(
        name="NVIDIA Container Toolkit",
        packages=settings.nvidia_toolkit_packages,
        **apt_update_after(keyring, toolkit_repo),
    )
    _nvidia_daemons(driver, settings.nvidia_nvswitch)
    _verify_when_installed(driver, "nvidia-smi -L", "nvidia-smi")
    return driver


# Ubuntu's packaged nvidia-persistenced runs with --no-persistence-mode; NVIDIA's own Ansible role
# overrides ExecStart so persistence mode is really on (NVIDIA/ansible-role-nvidia-driver,
# files/nvidia-persistenced-override.conf).
PERSISTENCED_OVERRIDE = (
    "[Service]\nExecStart=\n"
    "ExecStart=/usr/bin/nvidia-persistenced --user root --persistence-mode "
    "--verbose\n"
)
PERSISTENCED_DROP_IN = "/etc/systemd/system/nvidia-persistenced.service.d/override.conf"


def _nvidia_daemons(driver: DriverChange, nvswitch: bool) -> None:
    """Persistence daemon (persistence mode on) and, on NVSwitch boards, Fabric Manager: enabled
    in every run, so a host rebooted for a new driver boots with them; started only when the
    driver is not changing in this run (a new one is not loaded before the reboot)."""
    override = files.put(
        name="nvidia-persistenced with persistence mode on",
        src=io.StringIO(PERSISTENCED_OVERRIDE),
        dest=PERSISTENCED_DROP_IN,
        mode="0644",
        create_remote_dir=True,
    )
    systemd.daemon_reload(
        name="Reload systemd units (persistenced override)", _if=override.did_change
    )
    services = ["nvidia-persistenced.service"]
    if nvswitch:  # CUDA error 802 without it (NVIDIA Fabric Manager User Guide)
        services.append("nvidia-fabricmanager.service")
    for unit in services:
        if driver.installs:
            systemd.service(
                name=f"{unit} enabled (starts after the reboot)",
                service=unit,
                running=None,
                enabled=True,
            )
        else:
            systemd.service(
                name=f"{unit} running and enabled", service=unit, running=True, enabled=True
            )
    if not driver.installs:
        systemd.service(
            name="Restart nvidia-persistenced for persistence mode",
            service="nvidia-persistenced.service",
            restarted=True,
            _if=override.did_change,
        )


def _hold(packages: list[str]) -> None:
    """apt-mark hold: `apt upgrade` cannot move the driver or Fabric Manager alone (the deploy
    installs with --allow-change-held-packages, so a branch change still goes through)."""
    held = set((host.get_fact(Command, "apt-mark showhold") or "").split())
    missing = [p for p in packages if p not in held]
    if missing:
        server.shell(
            name=f"Hold {', '.join(missing)} at their version",
            commands=[f"apt-mark hold {' '.join(missing)}"],
        )


def _amd(release: dict[str, str]):
    settings = host_settings()
    base = settings.rocm_repo_url
    key = f"{KEYRINGS}/rocm.gpg.asc"
    files.download(
        name="ROCm repository key", src=f"{base}/rocm/rocm.gpg.key", dest=key, mode="0644"
    )
    codename = release["codename"]
    sources = [
        apt.repo(
            name="amdgpu repository",
            filename="amdgpu",
            src=f"deb [arch=amd64 signed-by={key}] {base}/amdgpu/"
            f"{settings.amdgpu_repo_version}/ubuntu {codename} main",
        ),
        apt.repo(
            name="ROCm repository",
            filename="rocm",
            src=f"deb [arch=amd64 signed-by={key}] {base}/rocm/apt/"
            f"{settings.rocm_version} {codename} main",
        ),
    ]
    files.put(
        name="Prefer repo.radeon.com packages over the distribution's",
        src=io.StringIO("Package: *\nPin: release o=repo.radeon.com\nPin-Priority: 600\n"),
        dest="/etc/apt/preferences.d/rocm-pin-600",
        mode="0644",
    )
    # AMD's prerequisites (https://rocm.docs.amd.com/projects/install-on-linux/en/latest/install/
    # prerequisites.html): headers and linux-modules-extra of the running kernel (DKMS builds
    # against them; amdgpu needs modules Ubuntu ships only in -extra), plus cpupower.
    kernel = host.get_fact(KernelVersion)
    packages = [
        *settings.rocm_driver_packages,
        *_kernel_headers(),
        f"linux-modules-extra-{kernel}",
        "linux-tools-common",
        f"linux-tools-{kernel}",
    ]
    driver = _driver_packages("amdgpu driver and amd-smi", packages, *sources)
    if iommu_passthrough():
        driver.reboot_for.append(KERNEL_ARGS)
    shallow_cpu_idle()
    for user in settings.amd_gpu_users:
        server.user(
            name=f"{user} in the render and video groups",
            user=user,
            groups=["render", "video"],
            append=True,
        )
    # Automatic NUMA balancing stalls GPU memory access on MI300X (AMD's tuning guide).
    server.sysctl(
        name="kernel.numa_balancing=0", key="kernel.numa_balancing", value=0, persist=True
    )
    _verify_when_installed(driver, "amd-smi list", "amd-smi")
    return driver


def apt_update_after(*sources) -> dict:
    """apt.packages arguments: refresh the package lists now if a repository was just added,
    else at most hourly."""
    return {"update": True, "cache_time": 0 if any(s.will_change for s in sources) else 3600}


@dataclass
class DriverChange:
    """The driver packages operation, and whether it installs anything (known at prepare time
    from the host's package list, so the reboot notice and the check are decided up front)."""

    op: OperationMeta
    installs: list[str]
    reboot_for: list[str] = field(default_factory=list)  # boot-time settings not yet in effect


def _driver_packages(name: str, packages: list[str], *sources, **options) -> DriverChange:
    installed = host.get_fact(DebPackages)
    op = apt.packages(name=name, packages=packages, **apt_update_after(*sources), **options)
    return DriverChange(op=op, installs=[p for p in packages if p not in installed])


def _kernel_headers() -> list[str]:
    """DKMS builds the module against the running kernel's headers."""
    return [f"linux-headers-{host.get_fact(KernelVersion)}"]


def _verify_when_installed(driver: DriverChange, command: str, tool: str) -> None:
    """On a host whose driver is already in place, the vendor tool must see the GPUs now."""
    if driver.installs:
        return
    status = host.get_fact(CommandStatus, check=command)
    if not status["ok"]:
        first = status["output"].splitlines()[0] if status["output"] else "no output"
        fail(
            f"{tool} cannot talk to the driver ({first}); a reboot may be pending "
            "(run with --data reboot=true)"
        )


def _reboot_if_asked(driver: DriverChange, vendor: str) -> None:
    reasons = [*driver.installs, *driver.reboot_for]
    if not reasons:
        return
    if host_settings().reboot:
        server.reboot(name=f"Reboot for {', '.join(reasons)}")
    else:
        logger.warning(
            f"    [{host.name}] {', '.join(reasons)}: a reboot is needed before "
            "the GPUs are usable as configured; rerun with --data reboot=true"
        )
