"""GPU drivers: NVIDIA (CUDA repository, pinned branch, Fabric Manager on NVSwitch boards,
persistence daemon, Container Toolkit) or AMD (ROCm repositories, amdgpu-dkms, render/video
groups, NUMA balancing off). Vendor ``none``: nothing. A driver change that needs a reboot is
reported; the host reboots only with ``--data reboot=true``.

Shaped like NVIDIA's ansible-role-nvidia-driver: a dispatcher picks the vendor path from facts,
each path is a short list of repository, package and service steps, knobs are host data.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from pyinfra import host, logger
from pyinfra.api import deploy
from pyinfra.api.operation import OperationMeta
from pyinfra.facts.deb import DebPackages
from pyinfra.facts.server import KernelVersion, LinuxDistribution
from pyinfra.operations import apt, files, server, systemd

from vllm_fleet.deploy.context import fail, host_settings, host_spec
from vllm_fleet.deploy.facts import CommandStatus

KEYRINGS = "/etc/apt/keyrings"
DOWNLOADS = "/var/cache/vllm-fleet"


@deploy("GPU drivers")
def install_drivers() -> None:
    vendor = host_spec().gpu_vendor
    if vendor == "none":
        return
    release = _supported_release()
    driver = _nvidia(release) if vendor == "nvidia" else _amd(release)
    _reboot_if_asked(driver, vendor)


def _supported_release() -> dict[str, str]:
    distro = host.get_fact(LinuxDistribution)
    version = f"{distro['major']}.{distro['minor']:02d}" if distro.get("minor") is not None \
        else str(distro.get("major"))
    supported = host_settings().driver_distros
    if distro.get("name") != "Ubuntu" or version not in supported:
        fail(f"driver_distros: GPU drivers are installed on Ubuntu {', '.join(supported)}; "
             f"this host runs {distro.get('name')} {version}")
    return supported[version]


def _packages(names: list[str], branch: str = "") -> list[str]:
    return [name.format(branch=branch) for name in names]


def _nvidia(release: dict[str, str]):
    settings = host_settings()
    branch = settings.nvidia_driver_branch
    repo = f"{settings.nvidia_cuda_repo_url}/{release['cuda']}/x86_64"
    keyring_deb = f"{DOWNLOADS}/{settings.nvidia_cuda_keyring_deb}"
    files.directory(name=f"Directory {DOWNLOADS}", path=DOWNLOADS, mode="0755")
    fetched = files.download(name="NVIDIA CUDA repository keyring package",
                             src=f"{repo}/{settings.nvidia_cuda_keyring_deb}",
                             dest=keyring_deb)
    keyring = apt.deb(name="Install the CUDA repository keyring", src=keyring_deb,
                      _if=fetched.did_change)
    toolkit_key = f"{KEYRINGS}/nvidia-container-toolkit.asc"
    toolkit_url = settings.nvidia_toolkit_repo_url
    files.download(name="NVIDIA Container Toolkit key", src=f"{toolkit_url}/gpgkey",
                   dest=toolkit_key, mode="0644")
    toolkit_repo = apt.repo(name="NVIDIA Container Toolkit repository",
                            src=f"deb [signed-by={toolkit_key}] {toolkit_url}/stable/deb/$(ARCH) /",
                            filename="nvidia-container-toolkit")
    packages = _packages(settings.nvidia_driver_packages, branch) + _kernel_headers()
    if settings.nvidia_nvswitch:
        packages += _packages(settings.nvidia_nvswitch_packages, branch)
    driver = _driver_packages(f"NVIDIA driver {branch}", packages, keyring, toolkit_repo)
    apt.packages(name="NVIDIA Container Toolkit", packages=settings.nvidia_toolkit_packages,
                 **apt_update_after(keyring, toolkit_repo))
    services = ["nvidia-persistenced.service"]
    if settings.nvidia_nvswitch:
        services.append("nvidia-fabricmanager.service")
    for unit in services:
        systemd.service(name=f"{unit} running and enabled", service=unit, running=True,
                        enabled=True, _if=lambda: not driver.op.did_change())
    _verify_when_installed(driver, "nvidia-smi -L", "nvidia-smi")
    return driver


def _amd(release: dict[str, str]):
    settings = host_settings()
    base = settings.rocm_repo_url
    key = f"{KEYRINGS}/rocm.gpg.asc"
    files.download(name="ROCm repository key", src=f"{base}/rocm/rocm.gpg.key", dest=key,
                   mode="0644")
    codename = release["codename"]
    sources = [
        apt.repo(name="amdgpu repository", filename="amdgpu",
                 src=f"deb [arch=amd64 signed-by={key}] {base}/amdgpu/"
                     f"{settings.amdgpu_repo_version}/ubuntu {codename} main"),
        apt.repo(name="ROCm repository", filename="rocm",
                 src=f"deb [arch=amd64 signed-by={key}] {base}/rocm/apt/"
                     f"{settings.rocm_version} {codename} main"),
    ]
    files.put(name="Prefer repo.radeon.com packages over the distribution's",
              src=io.StringIO("Package: *\nPin: release o=repo.radeon.com\nPin-Priority: 600\n"),
              dest="/etc/apt/preferences.d/rocm-pin-600", mode="0644")
    packages = settings.rocm_driver_packages + _kernel_headers()
    driver = _driver_packages("amdgpu driver and amd-smi", packages, *sources)
    for user in settings.amd_gpu_users:
        server.user(name=f"{user} in the render and video groups", user=user,
                    groups=["render", "video"], append=True)
    # Automatic NUMA balancing stalls GPU memory access on MI300X (AMD's tuning guide).
    server.sysctl(name="kernel.numa_balancing=0", key="kernel.numa_balancing", value=0,
                  persist=True)
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


def _driver_packages(name: str, packages: list[str], *sources) -> DriverChange:
    installed = host.get_fact(DebPackages)
    op = apt.packages(name=name, packages=packages, **apt_update_after(*sources))
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
        fail(f"{tool} cannot talk to the driver ({first}); a reboot may be pending "
             "(run with --data reboot=true)")


def _reboot_if_asked(driver: DriverChange, vendor: str) -> None:
    if not driver.installs:
        return
    if host_settings().reboot:
        server.reboot(name=f"Reboot for the new {vendor} driver", _if=driver.op.did_change)
    else:
        logger.warning(f"    [{host.name}] installing {', '.join(driver.installs)}: reboot "
                       "needed before the GPUs are usable; rerun with --data reboot=true")
