"""The service stays up and stops gently: restart policy, start-rate limit, the drain on stop,
ordering after the NVIDIA daemons, the /health watchdog, and the container's confinement."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from vllm_fleet.serving.inventory import HostData
from vllm_fleet.serving.plan import Planner
from vllm_fleet.serving.spec import ServeSpec
from vllm_fleet.serving.supervision import WATCHDOG_SCRIPT
from vllm_fleet.serving.units import command, render_unit, render_watchdog

H200 = "h200-01.example.internal"
MI300X = "mi300x-01.example.internal"


def _spec(host: HostData, manifest_dir: Path) -> ServeSpec:
    return Planner(manifest_dir=manifest_dir).spec(host)


def _lines(text: str, key: str) -> list[str]:
    return [line.split("=", 1)[1] for line in text.splitlines() if line.startswith(f"{key}=")]


@pytest.mark.parametrize("runtime", ["container", "venv"])
def test_any_unasked_exit_restarts_but_a_crash_loop_ends_failed(
    runtime: str, host_with: Callable[..., HostData], manifest_dir: Path
) -> None:
    spec = _spec(
        host_with(
            H200,
            runtime=runtime,
            vllm_start_limit_burst=4,
            vllm_start_limit_interval_s=900,
            vllm_restart_delay_s=7,
        ),
        manifest_dir,
    )
    text = render_unit(spec)
    assert _lines(text, "Restart") == ["always"]
    assert _lines(text, "RestartSec") == ["7"]
    assert _lines(text, "StartLimitBurst") == ["4"]
    assert _lines(text, "StartLimitIntervalSec") == ["900"]
    # StartLimit* belong in [Unit]: in [Service] systemd ignores them with a warning.
    unit_section = text.split("[Service]")[0]
    assert "StartLimitBurst=4" in unit_section


def test_the_stop_grace_becomes_vllms_drain(
    host_with: Callable[..., HostData], manifest_dir: Path
) -> None:
    spec = _spec(host_with(H200, vllm_stop_grace_s=300), manifest_dir)
    argv = command(spec)
    assert argv[argv.index("--shutdown-timeout") + 1] == "300"
    text = render_unit(spec)
    # docker stop waits the drain plus the teardown margin, systemd longer still.
    assert _lines(text, "ExecStop") == ["/usr/bin/docker stop -t 315 vllm-serve"]
    assert int(_lines(text, "TimeoutStopSec")[0]) > 315


def test_venv_unit_signals_only_the_api_server_first(
    host_with: Callable[..., HostData], manifest_dir: Path
) -> None:
    text = render_unit(_spec(host_with(H200, runtime="venv"), manifest_dir))
    assert _lines(text, "KillMode") == ["mixed"]
    assert _lines(text, "TimeoutStopSec") == ["135"]


def test_the_flag_is_left_out_for_a_vllm_without_it(
    host_with: Callable[..., HostData], manifest_dir: Path, tmp_path: Path
) -> None:
    manifest = (manifest_dir / "cpu-0.32.0.json").read_text()
    assert '"--shutdown-timeout",' in manifest
    (tmp_path / "cpu-0.32.0.json").write_text(manifest.replace('"--shutdown-timeout",', ""))
    spec = _spec(host_with(H200), tmp_path)
    assert "--shutdown-timeout" not in command(spec)


def test_shutdown_timeout_is_vllm_fleets_own(
    host_with: Callable[..., HostData], manifest_dir: Path
) -> None:
    from vllm_fleet.errors import ConfigError

    with pytest.raises(ConfigError, match="set by vllm-fleet from vllm_stop_grace_s"):
        _spec(host_with(H200, serve_flags={"shutdown-timeout": 5}), manifest_dir)


def test_nvswitch_hosts_start_after_fabric_manager(
    host_with: Callable[..., HostData], manifest_dir: Path
) -> None:
    daemons = "nvidia-persistenced.service nvidia-fabricmanager.service"
    text = render_unit(_spec(host_with(H200), manifest_dir))
    assert _lines(text, "Wants") == [f"network-online.target {daemons}"]
    assert _lines(text, "After") == [f"network-online.target docker.service {daemons}"]
    plain = render_unit(_spec(host_with(H200, nvidia_nvswitch=False), manifest_dir))
    assert "fabricmanager" not in plain and "nvidia-persistenced.service" in plain
    amd = render_unit(_spec(host_with(MI300X), manifest_dir))
    assert "nvidia" not in amd


def test_registry_outage_does_not_fail_a_start(
    host_with: Callable[..., HostData], manifest_dir: Path
) -> None:
    spec = _spec(host_with(H200), manifest_dir)
    pulls = [v for v in _lines(render_unit(spec), "ExecStartPre") if " pull " in v]
    assert pulls == [f"-/usr/bin/docker pull {spec.image}"]


def test_group_add_by_the_hosts_numeric_id(
    host_with: Callable[..., HostData], manifest_dir: Path
) -> None:
    spec = _spec(host_with(MI300X), manifest_dir)
    argv = command(spec, {"video": 44, "render": 993})
    added = [argv[i + 1] for i, a in enumerate(argv) if a == "--group-add"]
    assert added == ["44", "993"]
    assert "--group-add render" in render_unit(spec)  # the plan, without a host, shows names


def test_container_drops_every_capability(
    host_with: Callable[..., HostData], manifest_dir: Path
) -> None:
    argv = command(_spec(host_with(MI300X), manifest_dir))
    assert argv[argv.index("--cap-drop") + 1] == "ALL"
    assert argv[argv.index("--security-opt") + 1] == "no-new-privileges"
    assert "--privileged" not in argv and "--cap-add" not in argv


@pytest.mark.parametrize(
    "runtime,kill",
    [
        ("container", "/usr/bin/docker kill --signal SIGKILL vllm-serve"),
        ("venv", "/bin/systemctl kill --signal=SIGKILL vllm-serve.service"),
    ],
)
def test_watchdog_files(
    runtime: str, kill: str, host_with: Callable[..., HostData], manifest_dir: Path
) -> None:
    spec = _spec(
        host_with(
            H200,
            runtime=runtime,
            health_watchdog_interval_s=7,
            health_watchdog_failures=4,
            health_watchdog_timeout_s=2,
        ),
        manifest_dir,
    )
    files = render_watchdog(spec)
    service = files["/etc/systemd/system/vllm-serve-watchdog.service"]
    timer = files["/etc/systemd/system/vllm-serve-watchdog.timer"]
    assert _lines(service, "ExecStart") == [
        f"{WATCHDOG_SCRIPT} vllm-serve.service http://127.0.0.1:8000/health 4 2 {kill}"
    ]
    assert _lines(timer, "OnUnitActiveSec") == ["7"]
    assert files[WATCHDOG_SCRIPT].startswith("#!/bin/sh\n")


def test_watchdog_can_be_turned_off(host_with: Callable[..., HostData], manifest_dir: Path) -> None:
    assert render_watchdog(_spec(host_with(H200, health_watchdog=False), manifest_dir)) == {}


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze missing")
def test_systemd_accepts_the_watchdog_units(
    host_with: Callable[..., HostData], manifest_dir: Path, tmp_path: Path
) -> None:
    files = render_watchdog(_spec(host_with(H200), manifest_dir))
    script = tmp_path / "vllm-health-watchdog"
    script.write_text(files[WATCHDOG_SCRIPT])
    script.chmod(0o755)
    for path, text in files.items():
        if path.startswith("/etc/systemd/system/"):
            (tmp_path / Path(path).name).write_text(text.replace(WATCHDOG_SCRIPT, str(script)))
    result = subprocess.run(
        ["systemd-analyze", "verify", "vllm-serve-watchdog.timer"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    problems = [
        line
        for line in result.stderr.splitlines()
        if "vllm-serve-watchdog" in line and "vllm-serve.service" not in line
    ]
    assert not problems, result.stderr


def test_dcp_on_amd_is_refused_with_the_reason_and_the_opt_in(
    host_with: Callable[..., HostData], manifest_dir: Path
) -> None:
    from vllm_fleet.errors import ConfigError

    with pytest.raises(ConfigError) as refused:
        _spec(host_with(MI300X, profile="throughput"), manifest_dir)
    message = str(refused.value)
    assert message.startswith(
        "models/kimi-k2-thinking.yaml: profiles.throughput.flags.decode-context-parallel-size: "
    )
    assert "the usage guide has no DCP on AMD" in message
    assert "amd_unverified_dcp = True" in message
    spec = _spec(host_with(MI300X, profile="throughput", amd_unverified_dcp=True), manifest_dir)
    assert "--decode-context-parallel-size" in command(spec)


def test_venv_unit_is_confined_without_hiding_the_gpus(
    host_with: Callable[..., HostData], manifest_dir: Path
) -> None:
    text = render_unit(
        _spec(
            host_with(MI300X, runtime="venv", vllm_service_user="svc", amdgpu_repo_version="30.10"),
            manifest_dir,
        )
    )
    assert _lines(text, "User") == ["svc"] and _lines(text, "Group") == ["svc"]
    assert _lines(text, "SupplementaryGroups") == ["video render"]
    assert _lines(text, "NoNewPrivileges") == ["yes"]
    assert _lines(text, "ProtectSystem") == ["strict"]
    assert _lines(text, "ReadWritePaths") == ["/var/lib/vllm-fleet"]
    assert _lines(text, "ProtectHome") == ["yes"] and _lines(text, "PrivateTmp") == ["yes"]
    assert not _lines(text, "PrivateDevices") and not _lines(text, "MemoryDenyWriteExecute")


def test_a_cpu_host_needs_no_gpu_groups(
    host_with: Callable[..., HostData], manifest_dir: Path
) -> None:
    from vllm_fleet.serving.inventory import HostData as Data

    base = host_with(H200, runtime="venv")
    cpu = Data(
        base.name,
        {
            **base.data,
            "gpu_vendor": "none",
            "gpu_count": 0,
            "model": "kimi-tiny",
            "profile": "cpu",
            "image_target": "cpu",
        },
        base.sources,
        base.default_source,
    )
    assert not _lines(render_unit(_spec(cpu, manifest_dir)), "SupplementaryGroups")


def test_plan_refuses_an_amd_driver_not_paired_with_the_images_rocm(
    host_with: Callable[..., HostData], manifest_dir: Path
) -> None:
    from vllm_fleet.errors import ConfigError

    refused = (
        r"amdgpu_repo_version: driver 30\.10 is not paired with ROCm 7\.2 \(the image "
        r"rocm/upstream\) in AMD's compatibility matrix \(amdgpu-rocm\.yaml\); use 30\.30"
    )
    with pytest.raises(ConfigError, match=refused):
        _spec(host_with(MI300X, amdgpu_repo_version="30.10"), manifest_dir)
    # The venv installs the rocm target's wheel mode, on ROCm 7.0: there 30.10 is right.
    assert _spec(host_with(MI300X, amdgpu_repo_version="30.10", runtime="venv"), manifest_dir)


def test_the_rocm_recorded_in_the_images_manifest_decides_the_driver(
    host_with: Callable[..., HostData], manifest_dir: Path, tmp_path: Path
) -> None:
    """A rocm image whose manifest recorded ROCm 7.1 (read inside the image) is checked against
    7.1, not the matrix's 7.2: AMD pairs 7.1 with driver 30.20 only."""
    from dataclasses import asdict, replace

    from vllm_fleet.errors import ConfigError
    from vllm_fleet.images.manifest import load_manifest, write_manifest

    cpu = load_manifest(next(manifest_dir.glob("*.json")))
    write_manifest(replace(cpu, target="rocm", rocm_version="7.1.1"), tmp_path)
    assert asdict(load_manifest(tmp_path / "rocm.json"))["rocm_version"] == "7.1.1"
    with pytest.raises(ConfigError, match=r"not paired with ROCm 7\.1\.1 .*; use 30\.20"):
        _spec(host_with(MI300X, amdgpu_repo_version="30.30"), tmp_path)
    assert _spec(host_with(MI300X, amdgpu_repo_version="30.20"), tmp_path)
