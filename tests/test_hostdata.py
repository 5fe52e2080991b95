"""The host-data schema: every mistake in a key the deploy reads is one line naming the file, the
key, what was expected and, for an unknown key, the nearest valid name."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from deploy.plan_harness import run_deploy, write_inventory
from vllm_fleet.errors import ConfigError
from vllm_fleet.hostdata import HostSettings, documented_keys, settings_for
from vllm_fleet.local.sandbox import SandboxHost
from vllm_fleet.paths import INVENTORY_DIR
from vllm_fleet.serving.inventory import HostData, load_inventory
from vllm_fleet.serving.spec import host_values

ALL = "inventory/group_data/all.py"
HOST = "inventory/test-host.py"
BASE = {
    "gpu_vendor": "nvidia",
    "gpu_count": 8,
    "model": "kimi-k2-thinking",
    "profile": "latency",
    "image_target": "cuda",
}

# One row per mistake an operator makes in group_data/all.py: the data, then the exact message.
MISTAKES = [
    (
        "driver branch misspelt",
        {"nvidia_driver_brach": "580"},
        f"{ALL}: nvidia_driver_brach: unknown host data key; did you mean 'nvidia_driver_branch'? "
        "every key vllm-fleet reads is declared in src/vllm_fleet/hostdata.py (HostSettings)",
    ),
    (
        "driver branch as a number",
        {"nvidia_driver_branch": 580},
        f"{ALL}: nvidia_driver_branch: expected a string, got int 580",
    ),
    (
        "repository URL as a list",
        {"nvidia_cuda_repo_url": ["https://a", "https://b"]},
        f"{ALL}: nvidia_cuda_repo_url: expected a string, got list ['https://a', 'https://b']",
    ),
    (
        "package list as one string",
        {"rocm_driver_packages": "amdgpu-dkms"},
        f"{ALL}: rocm_driver_packages: expected a list of strings, got str 'amdgpu-dkms'",
    ),
    (
        "package list with a number in it",
        {"nvidia_toolkit_packages": ["nvidia-container-toolkit", 1]},
        f"{ALL}: nvidia_toolkit_packages: expected a list of strings, got list "
        "['nvidia-container-toolkit', 1]",
    ),
    (
        "port as a string",
        {"vllm_port": "8000"},
        f"{ALL}: vllm_port: expected an integer, got str '8000'",
    ),
    (
        "port out of range",
        {"vllm_port": 80000},
        f"{ALL}: vllm_port: 80000 is not a TCP port (1-65535)",
    ),
    (
        "path as a number",
        {"vllm_data_dir": 7},
        f"{ALL}: vllm_data_dir: expected a string, got int 7",
    ),
    (
        "boolean as a string",
        {"nvidia_nvswitch": "yes"},
        f"{ALL}: nvidia_nvswitch: expected True/False, got str 'yes'",
    ),
    (
        "boolean as a number",
        {"ready_smoke": 1},
        f"{ALL}: ready_smoke: expected True/False, got int 1",
    ),
    (
        "timeout as a float",
        {"ready_timeout_s": 1.5},
        f"{ALL}: ready_timeout_s: expected an integer, got float 1.5",
    ),
    (
        "timeout of zero",
        {"vllm_stop_grace_s": 0},
        f"{ALL}: vllm_stop_grace_s: 0 is below the minimum 1",
    ),
    (
        "timeout as a boolean",
        {"vllm_start_timeout_s": True},
        f"{ALL}: vllm_start_timeout_s: expected an integer, got bool True",
    ),
    (
        "docker source unknown",
        {"docker_source": "snap"},
        f"{ALL}: docker_source: 'snap' is not valid; valid: distro, docker",
    ),
    (
        "margin as a string",
        {"weights_free_space_margin": "5%"},
        f"{ALL}: weights_free_space_margin: expected a number, got str '5%'",
    ),
    (
        "unknown key far from any",
        {"colour": "blue"},
        f"{ALL}: colour: unknown host data key; every key vllm-fleet reads is declared in "
        "src/vllm_fleet/hostdata.py (HostSettings)",
    ),
    (
        "max_unavailable of 0",
        {"max_unavailable": 0},
        f"{ALL}: max_unavailable: 0 is below the minimum 1",
    ),
    (
        "distro table as a list",
        {"driver_distros": ["22.04"]},
        f"{ALL}: driver_distros: expected a dict, got list ['22.04']",
    ),
]


def _host(extra: dict) -> HostData:
    data = {**BASE, **extra}
    sources = {**{k: HOST for k in BASE}, **{k: ALL for k in extra}}
    return HostData("h1", data, sources, default_source=ALL)


@pytest.mark.parametrize(
    ("case", "data", "message"), MISTAKES, ids=[case for case, _, _ in MISTAKES]
)
def test_each_mistake_is_one_line_naming_file_and_key(case: str, data: dict, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        settings_for(_host(data))
    assert str(raised.value) == message


def test_a_serving_host_needs_every_serving_key() -> None:
    data = {k: v for k, v in BASE.items() if k != "image_target"}
    with pytest.raises(ConfigError) as raised:
        host_values(HostData("h1", data, {}, default_source=ALL))
    assert (
        str(raised.value) == f"{ALL}: image_target: missing: host h1 serves model "
        "'kimi-k2-thinking', so it needs gpu_vendor, gpu_count, model, profile, image_target"
    )


def test_a_misspelt_serving_key_names_the_right_one() -> None:
    data = {k: v for k, v in BASE.items() if k != "profile"}
    host = HostData("h1", {**data, "profle": "latency"}, {"profle": HOST}, default_source=ALL)
    with pytest.raises(ConfigError) as raised:
        settings_for(host)
    assert str(raised.value).startswith(
        f"{HOST}: profle: unknown host data key; did you mean 'profile'?"
    )


def test_a_host_without_a_model_serves_nothing_and_needs_no_serving_keys() -> None:
    settings = settings_for(HostData("router-1", {"vllm_port": 9000}, {}))
    assert settings.model is None and settings.gpu_vendor is None


def test_defaults_come_from_the_schema_not_the_inventory() -> None:
    """A host with only what it serves gets every other key from the schema's defaults."""
    settings = settings_for(_host({}))
    assert settings.vllm_port == 8000
    assert settings.nvidia_driver_packages["open"] == ["nvidia-open-{branch}"]
    # Mutable defaults are not shared between hosts.
    assert settings.nvidia_driver_packages is not settings_for(_host({})).nvidia_driver_packages


def test_pyinfras_own_keys_pass_by() -> None:
    settings = settings_for(
        _host({"ssh_port": 2222, "ssh_user": "root", "_sudo": True, "fake_responses": {}})
    )
    assert settings.gpu_count == 8


def test_every_key_says_why_it_exists() -> None:
    docs = documented_keys()
    assert list(docs) == [f.name for f in dataclasses.fields(HostSettings)]
    assert all(len(doc) > 20 for doc in docs.values()), docs


def test_every_key_the_inventories_set_is_declared(tmp_path: Path) -> None:
    # The sandbox inventory lists only hosts that are up: check one host as it would list it.
    sandbox_inventory = tmp_path / "sandbox.py"
    sandbox_inventory.write_text(f"sandbox = [{SandboxHost(1).inventory_entry()!r}]\n")
    hosts = load_inventory(INVENTORY_DIR / "prod.py") + load_inventory(
        sandbox_inventory, [INVENTORY_DIR / "group_data"]
    )
    assert "sandbox-1" in [h.name for h in hosts]
    for host in hosts:
        settings_for(host)  # raises on an undeclared or mistyped key


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        (
            "nvidia_driver_brach",
            "575",
            "--data override: nvidia_driver_brach: unknown host data key; did you mean "
            "'nvidia_driver_branch'?",
        ),
        (
            "rocm_driver_packages",
            "amdgpu-dkms",
            "--data override: rocm_driver_packages: expected a list of strings, got str "
            "'amdgpu-dkms'",
        ),
    ],
)
def test_pyinfra_stops_in_prepare_naming_the_key(
    key: str, value: str, message: str, tmp_path: Path
) -> None:
    """The same schema stops `pyinfra ... deploy/serve.py` before any operation runs."""
    inventory = write_inventory(tmp_path, "nvidia_h200", "h200-01", "ubuntu-24.04", {}, {})
    result = run_deploy(inventory, "deploy/serve.py", "--data", f"{key}={value}")
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert message in output, output[-2000:]
    assert "--> Beginning operation run" not in output


def test_pyinfra_names_the_group_data_file(tmp_path: Path) -> None:
    group_data = tmp_path / "group_data"
    group_data.mkdir()
    (group_data / "nvidia_h200.py").write_text("nvidia_driver_branch = 580\n")
    inventory = write_inventory(tmp_path, "nvidia_h200", "h200-01", "ubuntu-24.04", {}, {})
    result = run_deploy(inventory)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert (
        "group_data/nvidia_h200.py: nvidia_driver_branch: expected a string, got int 580" in output
    ), output[-2000:]
    assert "--> Beginning operation run" not in output
