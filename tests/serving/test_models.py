"""Model files: the real ones load, and each kind of mistake is named by file and field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from vllm_fleet.errors import ConfigError, UnknownNameError
from vllm_fleet.paths import MODELS_DIR
from vllm_fleet.serving.models import load_model, model_names


def test_the_repository_models_load() -> None:
    assert model_names() == ["kimi-k2-thinking", "kimi-tiny"]
    kimi = load_model("kimi-k2-thinking")
    assert (kimi.repo_id, kimi.gpus, kimi.served_model_name) == (
        "moonshotai/Kimi-K2-Thinking",
        8,
        "moonshotai/Kimi-K2-Thinking",
    )
    assert len(kimi.revision) == 40 and not kimi.test_only
    assert list(kimi.profiles) == ["latency", "throughput"]
    tiny = load_model("kimi-tiny")
    assert (tiny.gpus, tiny.test_only, list(tiny.profiles)) == (0, True, ["cpu"])
    # Same parsers in both: the tiny model exists to exercise Kimi's.
    for flag in ("tool-call-parser", "reasoning-parser", "enable-auto-tool-choice"):
        assert tiny.flags[flag].value == kimi.flags[flag].value


@pytest.mark.parametrize(
    ("version", "vendor", "expected"),
    [
        ("0.13.0", "amd", [1, 2]),
        ("0.17.0", "amd", [1, 3]),
        ("0.18.0", "amd", [1, 3, 4]),
        ("0.32.0", "nvidia", [0, 3]),
        ("0.11.2.dev0", "nvidia", [0, 2]),
    ],
)
def test_layers_follow_vendor_and_vllm_version(
    version: str, vendor: str, expected: list[int]
) -> None:
    layers = load_model("kimi-k2-thinking").layers_for(vendor, version)
    assert [layer.index for layer in layers] == expected


def _write(tmp_path: Path, edit) -> Path:
    data = yaml.safe_load((MODELS_DIR / "kimi-k2-thinking.yaml").read_text())
    edit(data)
    (tmp_path / "m.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return tmp_path


def _drop(key):
    return lambda d: d.pop(key)


def _set(path: str, value):
    def edit(d):
        *parents, last = path.split(".")
        for part in parents:
            d = d[int(part)] if isinstance(d, list) else d[part]
        d[last] = value

    return edit


BAD_MODEL_FILES = [
    (
        "missing required key",
        _drop("served_model_name"),
        r"m\.yaml: served_model_name: missing \(required\)",
    ),
    (
        "mistyped key",
        lambda d: d.update(servd_model_name=d.pop("served_model_name")),
        r"m\.yaml: servd_model_name: unknown key; did you mean 'served_model_name'\?",
    ),
    (
        "floating revision",
        _set("revision", "main"),
        r"m\.yaml: revision: 'main' is not a 40-hex commit",
    ),
    (
        "env value not a string",
        _set("layers.3.env.VLLM_ENGINE_READY_TIMEOUT_S", 3600),
        r"m\.yaml: layers\[3\]\.env\.VLLM_ENGINE_READY_TIMEOUT_S: expected a string, got int 3600; "
        r"quote it",
    ),
    (
        "bad version range",
        _set("layers.3.when.vllm", "after 0.17"),
        r"m\.yaml: layers\[3\]\.when\.vllm: 'after 0\.17' is not a version range",
    ),
    (
        "unknown vendor in a layer",
        _set("layers.0.when.gpu_vendor", "intel"),
        r"m\.yaml: layers\[0\]\.when\.gpu_vendor: unknown gpu vendor 'intel'; valid: amd, none, "
        r"nvidia",
    ),
    (
        "flag written with dashes",
        _set("profiles.latency.flags", {"--tensor-parallel-size": 8}),
        r"profiles\.latency\.flags\.--tensor-parallel-size: not a flag name .*write "
        r"'tensor-parallel-size'",
    ),
    (
        "note for an unset variable",
        _set("layers.1.notes.NOT_SET", "x"),
        r"m\.yaml: layers\[1\]\.notes\.NOT_SET: a note for a variable this layer does not set",
    ),
    (
        "size in a string",
        _set("size_bytes", "594 GB"),
        r"m\.yaml: size_bytes: expected an integer, got str '594 GB'",
    ),
]


@pytest.mark.parametrize(
    ("case", "edit", "message"), BAD_MODEL_FILES, ids=[case for case, _, _ in BAD_MODEL_FILES]
)
def test_bad_model_files_are_named(tmp_path: Path, case: str, edit, message: str) -> None:
    folder = _write(tmp_path, edit)
    with pytest.raises(ConfigError, match=message):
        load_model("m", folder)


def test_an_unknown_model_lists_the_models() -> None:
    with pytest.raises(
        UnknownNameError,
        match=r"^inventory/x\.py: model: unknown model "
        r"'kimi-k3'; valid: kimi-k2-thinking, kimi-tiny$",
    ):
        load_model("kimi-k3", where="inventory/x.py")
