"""Weights count as present only when complete: the download script's own check (every file of
the revision at its listed size, every shard the index names), and the deploy's decision on a
``@fake`` host whose snapshot is partial or complete."""

from __future__ import annotations

import json
from pathlib import Path

import huggingface_hub

from vllm_fleet.deploy.fetch_weights import check, record, remove_partial_files

from .plan_harness import operations, run_deploy, write_inventory

SHA = "612681931a8c906ddb349f8ad0f582cb552189cd"
DOWNLOAD = f"Model weights | Download moonshotai/Kimi-K2-Thinking@{SHA}"


def test_check_finds_missing_short_and_unlisted_shards(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "model-1.safetensors").write_bytes(b"x" * 5)
    index = {
        "weight_map": {
            "a": "model-1.safetensors",
            "b": "model-2.safetensors",
            "c": "model-3.safetensors",
        }
    }
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(index))
    listed = {
        "config.json": 2,
        "model-1.safetensors": 10,
        "model-2.safetensors": 10,
        "model.safetensors.index.json": len(json.dumps(index)),
    }
    assert check(str(tmp_path), listed) == [
        "model-1.safetensors has 5 of 10 bytes",
        "model-2.safetensors is missing",
        "model-3.safetensors, named by model.safetensors.index.json, is not in the revision",
    ]


def test_record_is_what_the_fact_reads(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    record("org/m", SHA, {"b.bin": 2, "a.json": 10})
    path = tmp_path / "vllm-fleet-complete" / "models--org--m" / SHA
    assert path.read_text() == "10 a.json\n2 b.bin\n"
    assert not path.with_name(SHA + ".tmp").exists()


def test_a_cut_off_runs_partial_files_are_removed_and_complete_ones_kept(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    blobs = tmp_path / "models--org--m" / "blobs"
    blobs.mkdir(parents=True)
    for name in ("done", "cut.1a2b3c4d.incomplete", "cut.incomplete"):
        (blobs / name).write_bytes(b"x")
    remove_partial_files("org/m")
    assert sorted(p.name for p in blobs.iterdir()) == ["done"]
    remove_partial_files("org/never-downloaded")  # no folder yet: nothing to do


def _plan(tmp_path: Path, snapshot: list[str]) -> tuple[str, dict]:
    inventory = write_inventory(
        tmp_path, "nvidia_h200", "h200-01", "ubuntu-24.04", {}, {"vllm-fleet-complete": snapshot}
    )
    result = run_deploy(inventory)
    output = result.stdout + result.stderr
    return output, operations(output)


def test_an_interrupted_download_resumes(tmp_path: Path) -> None:
    output, ops = _plan(
        tmp_path, [f"commit {SHA}", "missing model-00002-of-00062.safetensors", "checked"]
    )
    assert DOWNLOAD in ops
    assert (
        "is incomplete (model-00002-of-00062.safetensors is missing); resuming the download"
    ) in output


def test_a_complete_snapshot_is_not_downloaded_again(tmp_path: Path) -> None:
    _, ops = _plan(tmp_path, [f"commit {SHA}", "checked"])
    assert DOWNLOAD not in ops
    assert "Model weights | Weights download script" not in ops
