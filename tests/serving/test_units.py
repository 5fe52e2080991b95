"""Rendered units: systemd accepts them, they quote what they run, and they keep their promises.

`systemd-analyze verify` checks that every Exec binary exists, so the units under test are
rendered with a docker client and a venv that exist: executable stubs in a temporary folder
(the golden units keep the real /usr/bin/docker). A negative control proves the check bites.
"""

from __future__ import annotations

import dataclasses
import re
import shlex
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from vllm_fleet.serving.inventory import HostData
from vllm_fleet.serving.plan import Planner
from vllm_fleet.serving.spec import ServeSpec
from vllm_fleet.serving.units import command, render_unit, systemd_arg, systemd_command

SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
needs_systemd = pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze missing")


def _stub(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o755)
    return str(path)


def _verify(unit_text: str, folder: Path) -> subprocess.CompletedProcess[str]:
    unit = folder / "vllm-serve.service"
    unit.write_text(unit_text)
    return subprocess.run(
        [SYSTEMD_ANALYZE, "verify", str(unit)], capture_output=True, text=True, cwd=folder
    )


def _spec(host: HostData, manifest_dir: Path, **options) -> ServeSpec:
    return Planner(manifest_dir=manifest_dir, **options).spec(host)


@pytest.fixture
def stubbed(tmp_path: Path, host_with: Callable[..., HostData]) -> Callable[..., HostData]:
    """A prod host whose docker client and venv are executable stubs under tmp_path."""
    docker = _stub(tmp_path / "bin" / "docker")
    venv = tmp_path / "venv"
    _stub(venv / "bin" / "vllm")
    # A venv installs the rocm target's wheel mode (ROCm 7.0): AMD pairs it with driver 30.10.
    return lambda base="mi300x-01.example.internal", **changes: host_with(
        base,
        docker_bin=docker,
        vllm_venv_dir=str(venv),
        **({"amdgpu_repo_version": "30.10"} if changes.get("runtime") == "venv" else {}),
        **changes,
    )


@needs_systemd
@pytest.mark.parametrize("runtime", ["container", "venv"])
@pytest.mark.parametrize("with_api_key", [False, True])
def test_systemd_accepts_the_units(
    runtime: str,
    with_api_key: bool,
    tmp_path: Path,
    stubbed: Callable[..., HostData],
    manifest_dir: Path,
) -> None:
    env_names = {"VLLM_API_KEY"} if with_api_key else set()
    spec = _spec(stubbed(runtime=runtime), manifest_dir, env_names=env_names)
    result = _verify(render_unit(spec), tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


@needs_systemd
def test_the_check_fails_on_a_missing_binary(
    tmp_path: Path, host_with: Callable[..., HostData], manifest_dir: Path
) -> None:
    spec = _spec(host_with(docker_bin=str(tmp_path / "no-docker")), manifest_dir)
    result = _verify(render_unit(spec), tmp_path)
    assert result.returncode != 0
    assert "no-docker" in result.stderr


def _exec_start(unit_text: str) -> list[str]:
    """ExecStart= as systemd splits it: continuations joined, %% and $$ undoubled; a lone %x
    (specifier) or $NAME (variable) would be replaced by systemd, so it fails the test."""
    text = unit_text.replace("\\\n", " ")
    (line,) = [ln for ln in text.splitlines() if ln.startswith("ExecStart=")]
    line = line.removeprefix("ExecStart=").replace("%%", "\0")
    assert "%" not in line, f"unescaped specifier in {line}"
    words = []
    for word in shlex.split(line.replace("\0", "%")):
        bare = word.replace("$$", "\0")
        assert not re.search(r"\$[A-Za-z_{]", bare), f"systemd would expand a variable: {word}"
        words.append(bare.replace("\0", "$"))
    return words


@pytest.mark.parametrize("runtime", ["container", "venv"])
def test_execstart_runs_exactly_the_command(
    runtime: str, stubbed: Callable[..., HostData], manifest_dir: Path
) -> None:
    odd = {"HIP_VISIBLE_DEVICES": 'a "b" $HOME 50% \\x ;'}
    spec = _spec(stubbed(runtime=runtime, serve_env=odd), manifest_dir, env_names={"VLLM_API_KEY"})
    assert _exec_start(render_unit(spec)) == command(spec)


def test_quoting_of_single_words() -> None:
    assert systemd_arg("--port") == "--port"
    assert systemd_arg("$HOME") == "$$HOME"
    assert systemd_arg("50%") == "50%%"
    assert systemd_arg(";") == '";"'
    assert systemd_arg("") == '""'
    assert systemd_arg('a "b"') == '"a \\"b\\""'
    assert systemd_command([["/bin/x", "run"], ["--a", "1"]]) == "/bin/x run \\\n    --a 1"


def test_container_unit_keeps_its_promises(
    stubbed: Callable[..., HostData], manifest_dir: Path
) -> None:
    spec = _spec(stubbed(), manifest_dir, env_names={"VLLM_API_KEY", "HF_TOKEN"})
    text = render_unit(spec)
    argv = command(spec)
    docker = spec.unit.docker_bin
    assert "Type=exec\n" in text and "Restart=always\n" in text
    assert "TimeoutStartSec=3600\n" in text
    assert f"ExecStartPre=-{docker} rm -f vllm-serve\n" in text
    assert f"ExecStartPre=-{docker} pull {spec.image}\n" in text
    assert f"ExecStop={docker} stop -t 135 vllm-serve\n" in text
    assert argv[:2] == [docker, "run"] and "-d" not in argv and "--detach" not in argv
    assert "--env-file" not in argv  # values would show in `docker inspect`
    for device in ("/dev/kfd", "/dev/dri"):
        assert argv[argv.index(device) - 1] == "--device"
    assert "/etc/vllm-fleet/vllm-api-key:/run/secrets/vllm-api-key:ro" in argv
    assert not any(a.startswith("-e") and "API_KEY" in a for a in argv)
    assert not any("HF_TOKEN" in a or "hf-token" in a for a in argv)  # the server runs offline


def test_local_images_are_not_pulled(stubbed: Callable[..., HostData], manifest_dir: Path) -> None:
    spec = _spec(stubbed(image_pull=False), manifest_dir)
    text = render_unit(spec)
    assert " pull " not in text
    assert "--entrypoint vllm \\\n" in text  # no API key: no shell in between


def test_venv_unit_reads_the_key_from_its_root_only_file(
    stubbed: Callable[..., HostData], manifest_dir: Path
) -> None:
    spec = _spec(stubbed(runtime="venv"), manifest_dir, env_names={"VLLM_API_KEY"})
    text = render_unit(spec)
    assert 'Environment="HF_HOME=/var/lib/vllm-fleet/huggingface"\n' in text
    assert "docker" not in text.split("[Service]")[1]
    argv = command(spec)
    assert argv[:2] == ["/bin/sh", "-c"]
    assert 'VLLM_API_KEY="$(cat /etc/vllm-fleet/vllm-api-key)"' in argv[2]
    assert argv[3] == f"{spec.unit.venv_dir}/bin/vllm"


def test_rendering_is_deterministic(prod_hosts: dict[str, HostData], manifest_dir: Path) -> None:
    host = prod_hosts["h200-01.example.internal"]
    first = render_unit(_spec(host, manifest_dir))
    again = render_unit(dataclasses.replace(_spec(host, manifest_dir)))
    assert first == again
