"""The image tier: a real `docker build` of `cpu` (local base, this machine's CA bundle and torch
wheel) and what the manifest read from inside it says."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from vllm_fleet.docker_engine import engine
from vllm_fleet.gitinfo import current_revision
from vllm_fleet.images.manifest import ImageManifest, load_manifest, manifest_path

pytestmark = pytest.mark.slow
RECORDED = Path(__file__).parents[1] / "fixtures" / "manifests" / "cpu-0.32.0.json"


def test_manifest_lists_what_this_vllm_knows(cpu_manifest: ImageManifest) -> None:
    assert cpu_manifest.vllm_version == "0.32.0"
    assert cpu_manifest.rocm_version is None  # read inside the image: no ROCm in a CPU image
    assert cpu_manifest.knows_env("VLLM_CACHE_ROOT")
    assert cpu_manifest.knows_env("VLLM_ENGINE_READY_TIMEOUT_S")  # exists from 0.17
    assert not cpu_manifest.knows_env("VLLM_USE_V1")  # gone since 0.11
    assert cpu_manifest.accepts_flag("--tensor-parallel-size")
    assert cpu_manifest.accepts_flag("--decode-context-parallel-size=8")
    assert cpu_manifest.accepts_flag("--no-enable-prefix-caching")
    assert not cpu_manifest.accepts_flag("--disable-log-requests")  # removed in 0.17


def test_manifest_on_disk_round_trips(cpu_manifest: ImageManifest, cpu_build_dir: Path) -> None:
    path = manifest_path("cpu", cpu_build_dir / "images")
    on_disk = load_manifest(path)
    # The session's push (tests/conftest.py) may already have added the registry's tag and digest
    # to the same file; the build's own tags come first either way.
    assert on_disk.tags[: len(cpu_manifest.tags)] == cpu_manifest.tags
    pushed = {"tags": cpu_manifest.tags, "repo_digests": cpu_manifest.repo_digests}
    assert replace(on_disk, **pushed) == cpu_manifest
    data = json.loads(path.read_text())
    assert data["image_id"].startswith("sha256:")
    assert data["tags"] == on_disk.tags


def test_labels_identify_the_image(cpu_manifest: ImageManifest) -> None:
    revision = current_revision()
    labels = cpu_manifest.labels
    assert labels["org.opencontainers.image.revision"] == revision.ref
    assert labels["org.opencontainers.image.created"] == revision.commit_time
    assert labels["org.opencontainers.image.version"] == f"0.32.0-{revision.ref}"
    assert labels["ai.vllm-fleet.target"] == "cpu"
    assert labels["ai.vllm-fleet.vllm-version"] == "0.32.0"
    assert cpu_manifest.tags == [f"vllm-fleet/cpu:0.32.0-{revision.ref}"]


def test_image_config_serves_and_keeps_caches_on_mount_points(cpu_image: str) -> None:
    config = engine().images.get(cpu_image).attrs["Config"]
    assert config["Entrypoint"] == ["vllm", "serve"]
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["HF_HOME"] == "/data/huggingface"
    assert env["VLLM_CACHE_ROOT"] == "/data/vllm-cache"
    assert not any(key.startswith(("PIP_", "SSL_CERT", "REQUESTS_CA")) for key in env)


def test_build_inputs_stay_out_of_the_runtime_image(cpu_image: str) -> None:
    """The CA bundle and the wheelhouse reach the build stage only."""
    client = engine()
    output = client.containers.run(
        cpu_image,
        entrypoint=[
            "sh",
            "-c",
            "ls /tmp/build-extras 2>&1; ls /opt/vllm/lib/python3.11/"
            "site-packages | grep -E '^(torchvision|triton)' || true",
        ],
        remove=True,
        network_disabled=True,
    )
    assert b"No such file or directory" in output
    assert b"torchvision" not in output and b"triton" not in output


def test_recorded_manifest_fixture_matches_the_image(cpu_manifest: ImageManifest) -> None:
    """Fast tests validate serve specs against a recorded copy; it must not drift."""
    recorded = load_manifest(RECORDED)
    assert recorded.env_vars == cpu_manifest.env_vars
    assert recorded.serve_flags == cpu_manifest.serve_flags
    assert recorded.vllm_version == cpu_manifest.vllm_version


def test_the_image_serves_a_model_made_offline(kimi_tiny_server) -> None:
    """`docker run IMAGE MODEL --flags` (the tiny model, flags from models/kimi-tiny.yaml)."""
    assert httpx.get(f"{kimi_tiny_server.url}/health", timeout=10).status_code == 200
    reply = httpx.post(
        f"{kimi_tiny_server.url}/v1/chat/completions",
        timeout=60,
        json={
            "model": "kimi-tiny",
            "max_tokens": 64,
            "temperature": 0,
            "messages": [{"role": "user", "content": "What is 2+2?"}],
        },
    ).json()
    assert reply["choices"][0]["message"]["content"]
    assert reply["usage"]["completion_tokens"] > 0
