"""build_tiny_model: reuse by hash, refusal to clobber, and (slow) a bit-identical rebuild."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vllm_fleet.errors import TinyModelError
from vllm_fleet.local.tinymodel import build_tiny_model
from vllm_fleet.local.tinymodel.build import HASH_FILE, MODEL_FILES, TRAIN_SCRIPT, build_digest
from vllm_fleet.smoke.cases import DEFAULT_CASES, load_cases

NO_IMAGE = "vllm-fleet-test/no-such-image:none"  # any Docker use would fail on it


def digest_for(cases_file: Path = DEFAULT_CASES) -> str:
    cases_json = json.dumps(load_cases(cases_file).as_json_data(), indent=1) + "\n"
    return build_digest(TRAIN_SCRIPT.read_bytes(), cases_json.encode())


def fake_build(folder: Path, digest: str) -> Path:
    folder.mkdir(parents=True)
    for name in MODEL_FILES:
        (folder / name).write_text("x")
    (folder / HASH_FILE).write_text(digest + "\n")
    return folder


def test_a_current_build_is_reused_without_docker(tmp_path: Path) -> None:
    out = fake_build(tmp_path / "kimi-tiny", digest_for())
    assert build_tiny_model(NO_IMAGE, out) == out.resolve()


def test_changed_cases_mean_a_new_build_that_replaces_the_old(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cases = tmp_path / "cases.yaml"
    cases.write_text(DEFAULT_CASES.read_text().replace("What is 2+2?", "What is 3+3?"))
    assert digest_for(cases) != digest_for()
    out = fake_build(tmp_path / "kimi-tiny", digest_for())
    seen: list[dict] = []

    def fake_train(image: str, script: Path, cases_json: Path, model: Path, log: object) -> None:
        seen.append({"image": image, "cases": json.loads(cases_json.read_text())})
        for name in MODEL_FILES:
            (model / name).write_text("new")

    monkeypatch.setattr("vllm_fleet.local.tinymodel.build._train_in_container", fake_train)
    assert build_tiny_model(NO_IMAGE, out, cases) == out.resolve()
    assert len(seen) == 1 and seen[0]["image"] == NO_IMAGE
    assert seen[0]["cases"]["chat"]["messages"][0]["content"] == "What is 3+3?"
    assert (out / HASH_FILE).read_text().strip() == digest_for(cases)
    assert (out / "config.json").read_text() == "new"
    assert not list(tmp_path.glob(".kimi-tiny.partial-*"))  # staging cleaned up


def test_a_failed_build_keeps_the_old_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cases = tmp_path / "cases.yaml"
    cases.write_text(DEFAULT_CASES.read_text().replace("What is 2+2?", "What is 3+3?"))
    out = fake_build(tmp_path / "kimi-tiny", digest_for())

    def failing(*_args: object) -> None:
        raise TinyModelError("trainer exited with 1", ["did not fit"])

    monkeypatch.setattr("vllm_fleet.local.tinymodel.build._train_in_container", failing)
    with pytest.raises(TinyModelError, match=r"trainer exited with 1\ndid not fit"):
        build_tiny_model(NO_IMAGE, out, cases)
    assert (out / HASH_FILE).read_text().strip() == digest_for()
    assert not list(tmp_path.glob(".kimi-tiny.partial-*"))


def test_a_folder_it_did_not_build_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(TinyModelError, match=rf"{out} is not empty and holds no tiny model"):
        build_tiny_model(NO_IMAGE, out)
    assert (out / "notes.txt").read_text() == "keep me"


@pytest.mark.slow
def test_rebuild_is_bit_identical_and_second_call_is_a_no_op(
    cpu_image: str, tiny_model_dir: Path, tmp_path: Path
) -> None:
    again = build_tiny_model(cpu_image, tmp_path / "again")
    names = sorted(p.name for p in tiny_model_dir.iterdir())
    assert names == sorted(p.name for p in again.iterdir())
    assert set(MODEL_FILES) <= set(names)
    for name in names:
        assert (again / name).read_bytes() == (tiny_model_dir / name).read_bytes(), name
    stamp = (again / "model.safetensors").stat().st_mtime_ns
    build_tiny_model(cpu_image, again)
    assert (again / "model.safetensors").stat().st_mtime_ns == stamp


@pytest.mark.slow
def test_model_holds_kimis_markers_as_single_tokens(tiny_model_dir: Path) -> None:
    vocab = json.loads((tiny_model_dir / "tokenizer.json").read_text())
    added = {t["content"]: t["special"] for t in vocab["added_tokens"]}
    for marker in (
        "<|tool_calls_section_begin|>",
        "<|tool_call_begin|>",
        "<|tool_call_argument_begin|>",
        "<|tool_call_end|>",
        "<|tool_calls_section_end|>",
        "<|im_end|>",
    ):
        assert added.get(marker) is True, marker
    assert added.get("<think>") is False and added.get("</think>") is False
    config = json.loads((tiny_model_dir / "config.json").read_text())
    assert config["architectures"] == ["LlamaForCausalLM"]
    assert config["eos_token_id"] == next(
        t["id"] for t in vocab["added_tokens"] if t["content"] == "<|im_end|>"
    )
