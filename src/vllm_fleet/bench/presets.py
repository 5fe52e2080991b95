"""Benchmark presets: named `vllm bench serve` workloads, kept as data in benchmarks/presets.yaml.

The guide's workload is a fact about the guide, not about this code: keeping it in a data file
means an operator can read, diff and extend it (a longer-context preset, another request rate)
without touching Python, and a typo in it fails with the file and field before a 13-minute run.

    preset = load_presets()["guide"]
    preset.argv()   # ['--backend', 'openai', '--dataset-name', 'random', ...]
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from vllm_fleet.errors import ConfigError, UnknownNameError
from vllm_fleet.paths import BENCHMARKS_DIR
from vllm_fleet.schema import Field, check_fields, load_yaml

PRESETS_FILE = BENCHMARKS_DIR / "presets.yaml"

# Flags the bench task sets for every run (where to send, what to save): a preset naming one
# would silently fight the task, so it is refused.
RESERVED_FLAGS = (
    "base-url",
    "host",
    "port",
    "model",
    "tokenizer",
    "label",
    "metadata",
    "save-result",
    "result-dir",
    "result-filename",
    "append-result",
)

FLAG_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
FlagValue = str | int | float | bool

_FILE_FIELDS = {"presets": Field(dict)}
_PRESET_FIELDS = {"description": Field(str), "args": Field(dict)}


@dataclass(frozen=True)
class Preset:
    """One named workload: its description and its `vllm bench serve` flags (no leading --)."""

    name: str
    description: str
    args: dict[str, FlagValue]

    def argv(self) -> list[str]:
        """The flags as command-line words: ``true`` is a bare flag, ``false`` is left out."""
        words: list[str] = []
        for flag, value in self.args.items():
            if value is True:
                words.append(f"--{flag}")
            elif value is not False:
                words += [f"--{flag}", str(value)]
        return words


def load_presets(path: Path = PRESETS_FILE) -> dict[str, Preset]:
    """Every preset of ``path``, validated; ConfigError names the file and the field."""
    data = check_fields(path, "", load_yaml(path), _FILE_FIELDS)
    presets = {}
    for name, body in data["presets"].items():
        where = f"presets.{name}"
        check_fields(path, where, body, _PRESET_FIELDS)
        presets[str(name)] = Preset(
            str(name),
            body["description"].strip(),
            _checked_args(path, f"{where}.args", body["args"]),
        )
    if not presets:
        raise ConfigError(path, "presets", "no preset defined; add at least one")
    return presets


def get_preset(name: str, path: Path = PRESETS_FILE) -> Preset:
    """The preset called ``name``; UnknownNameError lists the valid ones."""
    presets = load_presets(path)
    if name not in presets:
        raise UnknownNameError(path, "presets", "preset", name, list(presets))
    return presets[name]


def _checked_args(path: Path, where: str, args: dict) -> dict[str, FlagValue]:
    for flag, value in args.items():
        key = f"{where}.{flag}"
        if not isinstance(flag, str) or not FLAG_NAME.match(flag):
            raise ConfigError(
                path,
                key,
                "not a flag name; write `vllm bench serve` flags "
                "without the leading -- (e.g. num-prompts)",
            )
        if flag in RESERVED_FLAGS:
            raise ConfigError(
                path,
                key,
                "set by `invoke bench` itself for every run; remove it "
                f"from the preset (reserved: {', '.join(RESERVED_FLAGS)})",
            )
        if not isinstance(value, FlagValue):
            raise ConfigError(
                path,
                key,
                f"expected a string, number or true/false, got {type(value).__name__} {value!r}",
            )
    return dict(args)
