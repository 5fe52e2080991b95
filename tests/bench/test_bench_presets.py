"""Presets: the repository's file holds the guide's workload; a bad preset file fails with one
line naming the file and the field (each file in bad_presets/ says which on its first line)."""

from __future__ import annotations

from pathlib import Path

import pytest

from vllm_fleet.bench.presets import PRESETS_FILE, Preset, get_preset, load_presets
from vllm_fleet.errors import ConfigError, UnknownNameError

BAD_PRESETS = sorted((Path(__file__).parent / "bad_presets").glob("*.yaml"))


def test_guide_preset_is_the_guides_command() -> None:
    """`vllm bench serve --dataset-name random --random-input 8000 --random-output 4000
    --request-rate 100 --num-prompt 1000 --trust-remote-code` (the guide's prefixes spelt out)."""
    args = get_preset("guide").args
    assert args["dataset-name"] == "random"
    assert (args["random-input-len"], args["random-output-len"]) == (8000, 4000)
    assert (args["request-rate"], args["num-prompts"]) == (100, 1000)
    assert args["trust-remote-code"] is True


def test_small_preset_fits_the_cpu_test_model() -> None:
    """kimi-tiny serves 512 tokens of context (models/kimi-tiny.yaml): prompt + answer fit."""
    args = get_preset("small").args
    assert args["random-input-len"] + args["random-output-len"] <= 512
    assert args["num-prompts"] <= 50


def test_argv_spells_flags_as_the_cli_wants() -> None:
    preset = Preset(
        "p",
        "d",
        {"num-prompts": 20, "ignore-eos": True, "save-detailed": False, "request-rate": 2.5},
    )
    assert preset.argv() == ["--num-prompts", "20", "--ignore-eos", "--request-rate", "2.5"]


def test_unknown_preset_lists_the_valid_ones() -> None:
    with pytest.raises(UnknownNameError, match=r"unknown preset 'guid'; valid: guide, small"):
        get_preset("guid")


@pytest.mark.parametrize("path", BAD_PRESETS, ids=lambda p: p.stem)
def test_bad_preset_file_names_file_and_field(path: Path) -> None:
    expected = path.read_text().splitlines()[0].removeprefix("# error: ")
    with pytest.raises(ConfigError) as caught:
        load_presets(path)
    assert str(caught.value).startswith(f"{path}: {expected}")


def test_every_bad_case_is_a_different_failure() -> None:
    """Guard against a fixture that fails for a reason other than the one it is about."""
    firsts = [path.read_text().splitlines()[0] for path in BAD_PRESETS]
    assert len(set(firsts)) == len(firsts) >= 8


def test_repository_presets_load() -> None:
    assert set(load_presets(PRESETS_FILE)) >= {"guide", "small"}
