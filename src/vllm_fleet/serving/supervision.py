"""How systemd keeps the server up and stops it gently: restart policy, start-rate limit, ordering
after the NVIDIA host daemons, the drain on stop, and the /health watchdog.

Pure: host settings and image facts in, values for the unit templates out (the serve spec holds
them, so `invoke plan` shows what a host gets).
"""

from __future__ import annotations

from dataclasses import dataclass

from packaging.version import Version

from vllm_fleet.hostdata import HostSettings
from vllm_fleet.images.manifest import ImageManifest
from vllm_fleet.serving.models import Setting

SHUTDOWN_FLAG = "shutdown-timeout"
# `vllm serve --shutdown-timeout N`: on SIGTERM the API server refuses new requests and waits up
# to N s for the ones in flight; the default 0 aborts them (vllm-project/vllm PR #34730, re-landed
# as #36666, in 0.18). Where no manifest lists the image's flags, the version decides.
SHUTDOWN_SINCE = Version("0.18")
# After the drain, vLLM still tears its engine down; SIGKILL waits this much longer.
KILL_MARGIN_S = 15

# Units the server needs up first on NVIDIA hosts: the persistence daemon keeps the driver
# initialised between processes; on NVSwitch boards CUDA fails with error 802 until Fabric
# Manager has configured the switches (NVIDIA Fabric Manager User Guide, "Starting the Fabric
# Manager service": https://docs.nvidia.com/datacenter/tesla/fabric-manager-user-guide/).
PERSISTENCED = "nvidia-persistenced.service"
WATCHDOG_SCRIPT = "/usr/local/lib/vllm-fleet/vllm-health-watchdog"
FABRIC_MANAGER = "nvidia-fabricmanager.service"


@dataclass(frozen=True)
class Watchdog:
    """A timer-driven /health probe that kills a server failing ``failures`` probes in a row.

    Why a timer and a probe script, not WatchdogSec=: WatchdogSec needs the server to send
    sd_notify keep-alives, which vLLM does not (systemd readiness is still an open PR, vllm-project/
    vllm #57637), and a notifier beside it would have to live in the unit's cgroup and know when
    the model finished loading. A oneshot on a timer runs outside the server, survives its death,
    needs nothing but curl, and its every decision is in the journal.
    """

    unit: str  # <name>-watchdog: the .service the .timer starts
    url: str
    interval_s: int
    failures: int
    timeout_s: int
    kill: tuple[str, ...]  # how a hung server is ended (systemd's Restart= then starts it)


@dataclass(frozen=True)
class Supervision:
    start_limit_burst: int
    start_limit_interval_s: int
    kill_after_s: int  # SIGTERM -> SIGKILL, for the server itself
    after: tuple[str, ...]  # After= and Wants=
    watchdog: Watchdog | None


def supervision(h: HostSettings, *, container: bool) -> Supervision:
    return Supervision(
        start_limit_burst=h.vllm_start_limit_burst,
        start_limit_interval_s=h.vllm_start_limit_interval_s,
        kill_after_s=h.vllm_stop_grace_s + KILL_MARGIN_S,
        after=nvidia_daemons(h),
        watchdog=watchdog(h, container=container) if h.health_watchdog else None,
    )


def nvidia_daemons(h: HostSettings) -> tuple[str, ...]:
    if h.gpu_vendor != "nvidia":
        return ()
    return (PERSISTENCED, FABRIC_MANAGER) if h.nvidia_nvswitch else (PERSISTENCED,)


def watchdog(h: HostSettings, *, container: bool) -> Watchdog:
    name = h.vllm_unit_name
    # A hung server cannot drain, so no graceful stop: SIGKILL, then Restart=always. In a
    # container the server is not in the unit's cgroup (dockerd runs it), so docker kills it.
    kill = (
        (h.docker_bin, "kill", "--signal", "SIGKILL", name)
        if container
        else ("/bin/systemctl", "kill", "--signal=SIGKILL", f"{name}.service")
    )
    return Watchdog(
        unit=f"{name}-watchdog",
        url=f"http://127.0.0.1:{h.vllm_port}/health",
        interval_s=h.health_watchdog_interval_s,
        failures=h.health_watchdog_failures,
        timeout_s=h.health_watchdog_timeout_s,
        kill=kill,
    )


def shutdown_flags(
    h: HostSettings, manifest: ImageManifest | None, vllm_version: str
) -> dict[str, Setting]:
    """``--shutdown-timeout`` = the stop grace, where the image's vLLM accepts it."""
    if not _has_shutdown_timeout(manifest, vllm_version):
        return {}
    return {SHUTDOWN_FLAG: Setting(h.vllm_stop_grace_s, "vllm-fleet", "vllm_stop_grace_s")}


def _has_shutdown_timeout(manifest: ImageManifest | None, vllm_version: str) -> bool:
    if manifest is not None:
        return manifest.accepts_flag(f"--{SHUTDOWN_FLAG}")
    try:
        return Version(vllm_version) >= SHUTDOWN_SINCE
    except ValueError:
        return False
