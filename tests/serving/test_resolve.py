"""resolve(): one table of bad inputs with their messages, and what a good spec holds."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from vllm_fleet.errors import ConfigError
from vllm_fleet.serving.imagefacts import image_facts
from vllm_fleet.serving.inventory import HostData
from vllm_fleet.serving.models import load_model
from vllm_fleet.serving.plan import Planner
from vllm_fleet.serving.spec import ImageFacts, ServeSpec, resolve

from .conftest import TEST_SOURCE

T = TEST_SOURCE.replace(".", r"\.")
KIMI = r"models/kimi-k2-thinking\.yaml"

# One row per mistake: host data changes (None deletes a key), then the message expected,
# naming the file and the field.
BAD_HOSTS = [
    (
        "unknown model",
        {"model": "kimi-k3"},
        rf"^{T}: model: unknown model 'kimi-k3'; valid: kimi-k2-thinking, kimi-tiny$",
    ),
    (
        "unknown profile",
        {"profile": "fast"},
        rf"^{T}: profile: unknown profile of model 'kimi-k2-thinking' 'fast'; valid: latency, "
        r"throughput$",
    ),
    (
        "profile for another vendor",
        {"model": "kimi-tiny", "profile": "cpu", "gpu_count": 8},
        rf"^{T}: profile: profile 'cpu' of models/kimi-tiny\.yaml serves on gpu_vendor none, "
        r"not 'nvidia'$",
    ),
    (
        "unknown vendor",
        {"gpu_vendor": "intel"},
        rf"^{T}: gpu_vendor: 'intel' is not valid; valid: nvidia, amd, none$",
    ),
    (
        "unknown runtime",
        {"runtime": "podman"},
        rf"^{T}: runtime: 'podman' is not valid; valid: container, venv$",
    ),
    (
        "fewer GPUs than the model needs",
        {"gpu_count": 4},
        rf"^{T}: gpu_count: 4 GPUs; kimi-k2-thinking needs 8 \({KIMI}: gpus\)$",
    ),
    (
        "TP x PP beyond gpu_count",
        {"serve_flags": {"pipeline-parallel-size": 2}},
        rf"^inventory/group_data/nvidia_h200\.py: gpu_count: 8 GPUs cannot hold "
        rf"tensor-parallel-size 8 x pipeline-parallel-size 2 x data-parallel-size 1 = 16 "
        rf"\({KIMI}: profiles\.latency\.flags\.tensor-parallel-size, {T}: "
        r"serve_flags\.pipeline-parallel-size\)",
    ),
    (
        "DCP not dividing TP",
        {"serve_flags": {"decode-context-parallel-size": 3}},
        rf"^{T}: serve_flags\.decode-context-parallel-size: decode-context-parallel-size 3 does "
        r"not divide tensor-parallel-size 8; .* use one of 1, 2, 4, 8$",
    ),
    (
        "flag the image's vLLM does not accept",
        {"serve_flags": {"disable-log-requests": True}},
        rf"^{T}: serve_flags\.disable-log-requests: vLLM 0\.32\.0 does not accept "
        r"--disable-log-requests \(checked against tests/fixtures/manifests/cpu-0\.32\.0\.json\)",
    ),
    (
        "misspelt flag",
        {"serve_flags": {"tensor-paralel-size": 8}},
        rf"^{T}: serve_flags\.tensor-paralel-size: vLLM 0\.32\.0 does not accept "
        r"--tensor-paralel-size .*; did you mean '--tensor-parallel-size'\?$",
    ),
    (
        "both visible-devices variables",
        {"serve_env": {"HIP_VISIBLE_DEVICES": "0,1", "CUDA_VISIBLE_DEVICES": "0,1"}},
        rf"^{T}: serve_env\.CUDA_VISIBLE_DEVICES: both HIP_VISIBLE_DEVICES \({T}: "
        r"serve_env\.HIP_VISIBLE_DEVICES\) and CUDA_VISIBLE_DEVICES are set",
    ),
    ("port 0", {"vllm_port": 0}, rf"^{T}: vllm_port: 0 is not a TCP port \(1-65535\)$"),
    ("port 70000", {"vllm_port": 70000}, rf"^{T}: vllm_port: 70000 is not a TCP port \(1-65535\)$"),
    (
        "port as a string",
        {"vllm_port": "8000"},
        rf"^{T}: vllm_port: expected an integer, got str '8000'$",
    ),
    (
        "missing required key, with the typo found",
        {"profile": None, "profle": "latency"},
        rf"^{T}: profle: unknown host data key; did you mean 'profile'\? ",
    ),
    (
        "unknown image target",
        {"image_target": "tpu"},
        rf"^{T}: image_target: unknown image target 'tpu'; valid: cpu, cuda, rocm$",
    ),
    (
        "flag vllm-fleet sets itself",
        {"serve_flags": {"port": 9000}},
        rf"^{T}: serve_flags\.port: --port is set by vllm-fleet from vllm_port in the host data",
    ),
    (
        "secret in the repository",
        {"serve_env": {"VLLM_API_KEY": "sk-123"}},
        rf"^{T}: serve_env\.VLLM_API_KEY: VLLM_API_KEY carries a secret \(vllm serve's API key "
        r"\(https://docs\.vllm\.ai/en/stable/configuration/env_vars/\)\): never in a model file "
        r"or host data, .*; give it through vllm_api_key_file in host data or VLLM_API_KEY on the "
        r"controller$",
    ),
    (
        "GPUs on a host without a vendor",
        {"gpu_vendor": "none"},
        r"^inventory/group_data/nvidia_h200\.py: gpu_count: 8 does not match gpu_vendor 'none' "
        rf"\({T}\): none has 0 GPUs",
    ),
]


@pytest.mark.parametrize(
    ("case", "changes", "message"), BAD_HOSTS, ids=[case for case, _, _ in BAD_HOSTS]
)
def test_bad_host_data_is_named(
    case: str, changes: dict, message: str, manifest_dir: Path, host_with: Callable[..., HostData]
) -> None:
    planner = Planner(manifest_dir=manifest_dir)
    with pytest.raises(ConfigError, match=message):
        planner.spec(host_with(**changes))


def _spec(host: HostData, manifest_dir: Path, **options) -> ServeSpec:
    return Planner(manifest_dir=manifest_dir, **options).spec(host)


def test_the_stand_in_manifest_is_named(
    prod_hosts: dict[str, HostData], manifest_dir: Path
) -> None:
    spec = _spec(prod_hosts["h200-01.example.internal"], manifest_dir)
    validation = spec.validation
    assert validation.validated
    assert validation.manifest == "tests/fixtures/manifests/cpu-0.32.0.json"
    assert validation.stood_in_for == "tests/fixtures/manifests/cuda.json"
    assert "standing in for tests/fixtures/manifests/cuda.json" in validation.summary


def test_without_any_manifest_the_plan_stops_unless_allowed(
    prod_hosts: dict[str, HostData], tmp_path: Path
) -> None:
    host = prod_hosts["h200-01.example.internal"]
    with pytest.raises(
        ConfigError,
        match=r"/cuda\.json: no image manifest for vLLM "
        r"0\.32\.0 to check the flags and environment against .* go ahead "
        r"unchecked with `invoke plan --allow-unvalidated` / pyinfra --data "
        r"allow_unvalidated=true$",
    ):
        Planner(manifest_dir=tmp_path).spec(host)
    spec = _spec(host, tmp_path, allow_unvalidated=True)
    assert not spec.validation.validated
    assert spec.validation.summary == "not validated: no manifest for vLLM 0.32.0"
    assert any(w.startswith("flags and environment NOT validated") for w in spec.warnings)


def test_a_manifest_of_another_vllm_version_does_not_stand_in(
    prod_hosts: dict[str, HostData], manifest_dir: Path, tmp_path: Path
) -> None:
    text = (manifest_dir / "cpu-0.32.0.json").read_text()
    (tmp_path / "cpu.json").write_text(
        text.replace('"vllm_version": "0.32.0"', '"vllm_version": "0.31.0"')
    )
    spec = _spec(prod_hosts["h200-01.example.internal"], tmp_path, allow_unvalidated=True)
    assert spec.validation.manifest is None


def test_unknown_vllm_variables_warn_with_the_version(
    prod_hosts: dict[str, HostData], manifest_dir: Path
) -> None:
    spec = _spec(prod_hosts["mi300x-01.example.internal"], manifest_dir)
    unknown = [w for w in spec.warnings if "is not read by vLLM" in w]
    assert [w.split("=")[0] for w in unknown] == ["VLLM_USE_V1", "VLLM_USE_TRITON_FLASH_ATTN"]
    assert all("is not read by vLLM 0.32.0" in w for w in unknown)
    # The guide's settings are kept as written all the same.
    assert ("VLLM_USE_V1", "1") in spec.env and ("SAFETENSORS_FAST_GPU", "1") in spec.env
    assert any(
        w.startswith("SAFETENSORS_FAST_GPU=1") and "not a vLLM variable" in w for w in spec.warnings
    )


def test_strict_env_turns_the_warning_into_an_error(
    prod_hosts: dict[str, HostData], manifest_dir: Path
) -> None:
    with pytest.raises(
        ConfigError,
        match=rf"^{KIMI}: layers\[1\]\.env\.VLLM_USE_V1: "
        r"VLLM_USE_V1=1 is not read by vLLM 0\.32\.0 .*\(strict_env\)$",
    ):
        _spec(prod_hosts["mi300x-01.example.internal"], manifest_dir, strict_env=True)


def test_known_variables_pass_strict_env(
    prod_hosts: dict[str, HostData], manifest_dir: Path
) -> None:
    spec = _spec(
        prod_hosts["h200-01.example.internal"],
        manifest_dir,
        strict_env=True,
        env_names={"VLLM_API_KEY"},
    )
    assert ("VLLM_ENGINE_READY_TIMEOUT_S", "3600") in spec.env


def _facts(version: str) -> ImageFacts:
    """What an image of an older vLLM looks like when no manifest of it is at hand."""
    facts = image_facts("rocm", where=TEST_SOURCE)
    return ImageFacts(
        facts.target, version, "test", facts.hf_home, facts.vllm_cache_root, facts.own_manifest
    )


@pytest.mark.parametrize(
    ("version", "has_disable_log_requests", "env"),
    [
        ("0.13.0", True, {}),
        ("0.17.0", False, {"VLLM_ENGINE_READY_TIMEOUT_S": "3600"}),
        ("0.18.0", False, {"VLLM_ENGINE_READY_TIMEOUT_S": "3600", "VLLM_ROCM_USE_AITER": "1"}),
    ],
)
def test_settings_follow_the_vllm_version(
    prod_hosts: dict[str, HostData],
    version: str,
    has_disable_log_requests: bool,
    env: dict[str, str],
) -> None:
    spec = resolve(
        prod_hosts["mi300x-01.example.internal"],
        load_model("kimi-k2-thinking"),
        _facts(version),
        allow_unvalidated=True,
    )
    assert ("--disable-log-requests" in spec.argv) is has_disable_log_requests
    versioned = {
        k: v for k, v in spec.env if k in ("VLLM_ENGINE_READY_TIMEOUT_S", "VLLM_ROCM_USE_AITER")
    }
    assert versioned == env
    assert spec.validation.summary == f"not validated: no manifest for vLLM {version}"


def test_the_spec_always_serves_offline_under_its_name(
    prod_hosts: dict[str, HostData], manifest_dir: Path
) -> None:
    for host in [h for h in prod_hosts.values() if "model" in h.data]:  # routers serve none
        spec = _spec(host, manifest_dir)
        assert dict(spec.env)["HF_HUB_OFFLINE"] == "1"
        i = spec.argv.index("--served-model-name")
        assert spec.argv[i + 1] == "moonshotai/Kimi-K2-Thinking"
        assert spec.argv[:3] == ("vllm", "serve", "moonshotai/Kimi-K2-Thinking")


def test_host_overrides_win_over_the_model(
    host_with: Callable[..., HostData], manifest_dir: Path
) -> None:
    spec = _spec(
        host_with(
            serve_flags={"tool-call-parser": "hermes", "trust-remote-code": False},
            serve_env={"VLLM_ENGINE_READY_TIMEOUT_S": "7200"},
        ),
        manifest_dir,
    )
    i = spec.argv.index("--tool-call-parser")
    assert spec.argv[i + 1] == "hermes"
    assert "--trust-remote-code" not in spec.argv
    assert dict(spec.env)["VLLM_ENGINE_READY_TIMEOUT_S"] == "7200"
    assert dict(spec.sources)["VLLM_ENGINE_READY_TIMEOUT_S"] == (
        f"{TEST_SOURCE}: serve_env.VLLM_ENGINE_READY_TIMEOUT_S"
    )


def test_a_spec_is_frozen_and_serialisable(
    prod_hosts: dict[str, HostData], manifest_dir: Path
) -> None:
    import dataclasses
    import json

    spec = _spec(prod_hosts["h200-02.example.internal"], manifest_dir)
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.port = 1  # type: ignore[misc]
    data = json.loads(json.dumps(spec.to_dict()))
    assert data["argv"][-6:] == [
        "--tensor-parallel-size",
        "8",
        "--decode-context-parallel-size",
        "8",
        "--shutdown-timeout",
        "120",
    ]


def test_a_gated_model_needs_a_token_before_anything_runs(
    tmp_path: Path, manifest_dir: Path, host_with: Callable[..., HostData]
) -> None:
    from vllm_fleet.paths import MODELS_DIR

    text = (MODELS_DIR / "kimi-k2-thinking.yaml").read_text()
    (tmp_path / "kimi-k2-thinking.yaml").write_text(text.replace("gated: false", "gated: true"))
    planner = Planner(models_dir=tmp_path, manifest_dir=manifest_dir)
    with pytest.raises(
        ConfigError,
        match=r"kimi-k2-thinking\.yaml: gated: moonshotai/Kimi-K2-"
        r"Thinking is gated on the Hub and host h200-01\.example\.internal has "
        r"no HF token: set HF_TOKEN on the controller or hf_token_file in ",
    ):
        planner.spec(host_with())
    with_token = Planner(models_dir=tmp_path, manifest_dir=manifest_dir, env_names=["HF_TOKEN"])
    assert [c.name for c in with_token.spec(host_with()).credentials] == ["hf_token"]
