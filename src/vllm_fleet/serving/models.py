"""Model files (models/<name>.yaml): how one model is served, as data.

A model file holds the Hub identity (repo, pinned revision, size), the served name, the GPUs one
replica needs, flags and environment common to every host, named profiles, and layers that apply
when a host's GPU vendor and/or the image's vLLM version match. Loading checks every key and
type, so a typo fails with the file and field before any host is touched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from vllm_fleet.errors import ConfigError, UnknownNameError
from vllm_fleet.paths import MODELS_DIR, REPO_ROOT
from vllm_fleet.schema import Field, check_fields, load_yaml

# The GPU vendors a host can declare (host data `gpu_vendor`, vllm_fleet.hostdata).
GPU_VENDORS = ("nvidia", "amd", "none")

FlagValue = bool | int | float | str

_MODEL_FIELDS = {
    "description": Field(str),
    "repo_id": Field(str),
    "revision": Field(str),
    "gated": Field(bool),
    "test_only": Field(bool, required=False),
    "size_bytes": Field(int),
    "served_model_name": Field(str),
    "gpus": Field(int),
    "flags": Field(dict),
    "env": Field(dict),
    "profiles": Field(dict),
    "layers": Field(list),
}
_PROFILE_FIELDS = {
    "description": Field(str),
    "gpu_vendors": Field(list),
    "flags": Field(dict),
    "env": Field(dict, required=False),
}
_LAYER_FIELDS = {
    "when": Field(dict),
    "why": Field(str),
    "flags": Field(dict, required=False),
    "env": Field(dict, required=False),
    "container": Field(dict, required=False),
    "notes": Field(dict, required=False),
}
_WHEN_FIELDS = {"gpu_vendor": Field(str, required=False), "vllm": Field(str, required=False)}
_CONTAINER_FIELDS = {
    "gpus": Field(str, required=False),
    "ipc": Field(str, required=False),
    "devices": Field(list, required=False),
    "group_add": Field(list, required=False),
}
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_FLAG_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class Setting:
    """One flag or environment value and where it was written (file and dotted key)."""

    value: Any
    path: str
    key: str


@dataclass(frozen=True)
class ContainerAccess:
    """How a container reaches the GPUs (docker --gpus, --device, --group-add, --ipc)."""

    gpus: str | None = None
    ipc: str | None = None
    devices: tuple[str, ...] = ()
    group_add: tuple[str, ...] = ()


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    gpu_vendors: tuple[str, ...]
    flags: dict[str, Setting]
    env: dict[str, Setting]


@dataclass(frozen=True)
class Layer:
    """Settings that apply when every condition in ``when`` holds for a host."""

    index: int
    gpu_vendor: str | None
    vllm: SpecifierSet | None
    why: str
    flags: dict[str, Setting]
    env: dict[str, Setting]
    container: ContainerAccess | None
    notes: dict[str, str]

    def applies(self, gpu_vendor: str, vllm_version: str) -> bool:
        """True if this layer's vendor and vLLM version range both match (absent = any)."""
        if self.gpu_vendor is not None and self.gpu_vendor != gpu_vendor:
            return False
        if self.vllm is not None:
            return self.vllm.contains(Version(vllm_version), prereleases=True)
        return True


@dataclass(frozen=True)
class ModelFile:
    name: str
    path: str  # shown in messages: relative to the repository when inside it
    description: str
    repo_id: str
    revision: str
    gated: bool  # the Hub serves it only with a token: a deploy without one stops before it starts
    test_only: bool
    size_bytes: int
    served_model_name: str
    gpus: int
    flags: dict[str, Setting]
    env: dict[str, Setting]
    profiles: dict[str, Profile]
    layers: tuple[Layer, ...] = field(default_factory=tuple)

    def profile(self, name: str, where: str, key: str) -> Profile:
        """The profile ``name``; UnknownNameError blames ``where``/``key`` (the host data)."""
        if name not in self.profiles:
            raise UnknownNameError(
                where, key, f"profile of model {self.name!r}", name, list(self.profiles)
            )
        return self.profiles[name]

    def layers_for(self, gpu_vendor: str, vllm_version: str) -> list[Layer]:
        return [layer for layer in self.layers if layer.applies(gpu_vendor, vllm_version)]


def display_path(path: Path | str) -> str:
    """``path`` relative to the repository when inside it: messages and plans stay portable."""
    resolved = Path(path).resolve()
    try:
        return str(resolved.relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def model_names(models_dir: Path = MODELS_DIR) -> list[str]:
    return sorted(p.stem for p in models_dir.glob("*.yaml"))


def load_model(
    name: str, models_dir: Path = MODELS_DIR, *, where: str = "", key: str = "model"
) -> ModelFile:
    """Load and check ``models/<name>.yaml``.

    An unknown name raises UnknownNameError blaming ``where``/``key`` (the host data that asked
    for it) and listing the models that exist.
    """
    path = models_dir / f"{name}.yaml"
    if not path.is_file():
        raise UnknownNameError(
            where or display_path(models_dir), key, "model", name, model_names(models_dir)
        )
    return _load(path.resolve(), name)


def _load(path: Path, name: str) -> ModelFile:
    shown = display_path(path)
    raw = check_fields(Path(shown), "", load_yaml(path), _MODEL_FIELDS)
    _check_identity(shown, raw)
    profiles = {pname: _profile(shown, pname, pdata) for pname, pdata in raw["profiles"].items()}
    if not profiles:
        raise ConfigError(shown, "profiles", "no profiles; define at least one")
    layers = tuple(_layer(shown, i, data) for i, data in enumerate(raw["layers"]))
    return ModelFile(
        name=name,
        path=shown,
        description=raw["description"],
        repo_id=raw["repo_id"],
        revision=raw["revision"],
        gated=raw["gated"],
        test_only=raw.get("test_only", False),
        size_bytes=raw["size_bytes"],
        served_model_name=raw["served_model_name"],
        gpus=raw["gpus"],
        flags=_flags(shown, "flags", raw["flags"]),
        env=_env(shown, "env", raw["env"]),
        profiles=profiles,
        layers=layers,
    )


def _check_identity(path: str, raw: dict[str, Any]) -> None:
    if not _REPO_ID.match(raw["repo_id"]):
        raise ConfigError(path, "repo_id", f"{raw['repo_id']!r} is not a Hub id like org/name")
    if not _COMMIT.match(raw["revision"]) and not raw.get("test_only", False):
        raise ConfigError(
            path,
            "revision",
            f"{raw['revision']!r} is not a 40-hex commit; pin "
            "the Hub commit (a branch or tag moves under a deployed fleet)",
        )
    if raw["size_bytes"] <= 0:
        raise ConfigError(path, "size_bytes", f"{raw['size_bytes']} must be a positive byte count")
    if raw["gpus"] < 0:
        raise ConfigError(path, "gpus", f"{raw['gpus']} must be 0 (CPU) or more")


def _profile(path: str, name: str, data: Any) -> Profile:
    where = f"profiles.{name}"
    raw = check_fields(Path(path), where, data, _PROFILE_FIELDS)
    vendors = tuple(raw["gpu_vendors"])
    for vendor in vendors:
        if vendor not in GPU_VENDORS:
            raise UnknownNameError(
                path, f"{where}.gpu_vendors", "gpu vendor", str(vendor), list(GPU_VENDORS)
            )
    return Profile(
        name=name,
        description=raw["description"],
        gpu_vendors=vendors,
        flags=_flags(path, f"{where}.flags", raw["flags"]),
        env=_env(path, f"{where}.env", raw.get("env", {})),
    )


def _layer(path: str, index: int, data: Any) -> Layer:
    where = f"layers[{index}]"
    raw = check_fields(Path(path), where, data, _LAYER_FIELDS)
    when = check_fields(Path(path), f"{where}.when", raw["when"], _WHEN_FIELDS)
    if not when:
        raise ConfigError(path, f"{where}.when", "empty; name a gpu_vendor, a vllm range or both")
    vendor = when.get("gpu_vendor")
    if vendor is not None and vendor not in GPU_VENDORS:
        raise UnknownNameError(
            path, f"{where}.when.gpu_vendor", "gpu vendor", vendor, list(GPU_VENDORS)
        )
    env = _env(path, f"{where}.env", raw.get("env", {}))
    notes = raw.get("notes", {})
    for name, note in notes.items():
        if name not in env:
            raise ConfigError(
                path,
                f"{where}.notes.{name}",
                "a note for a variable this layer "
                f"does not set; set variables: {', '.join(env) or 'none'}",
            )
        if not isinstance(note, str):
            raise ConfigError(path, f"{where}.notes.{name}", "expected a string")
    return Layer(
        index=index,
        gpu_vendor=vendor,
        vllm=_specifier(path, f"{where}.when.vllm", when.get("vllm")),
        why=raw["why"],
        flags=_flags(path, f"{where}.flags", raw.get("flags", {})),
        env=env,
        container=_container(path, f"{where}.container", raw.get("container")),
        notes={name: " ".join(note.split()) for name, note in notes.items()},
    )


def _specifier(path: str, key: str, text: str | None) -> SpecifierSet | None:
    if text is None:
        return None
    try:
        spec = SpecifierSet(text)
    except InvalidSpecifier:
        raise ConfigError(
            path, key, f"{text!r} is not a version range like '>=0.17' or '>=0.13,<0.17'"
        ) from None
    if not str(spec):
        raise ConfigError(path, key, "empty version range")
    return spec


def _container(path: str, key: str, data: Any) -> ContainerAccess | None:
    if data is None:
        return None
    raw = check_fields(Path(path), key, data, _CONTAINER_FIELDS)
    for name in ("devices", "group_add"):
        for item in raw.get(name, []):
            if not isinstance(item, str):
                raise ConfigError(path, f"{key}.{name}", f"expected strings, got {item!r}")
    return ContainerAccess(
        gpus=raw.get("gpus"),
        ipc=raw.get("ipc"),
        devices=tuple(raw.get("devices", ())),
        group_add=tuple(raw.get("group_add", ())),
    )


def check_flags(path: str, key: str, data: dict[Any, Any]) -> dict[str, Setting]:
    """Check a ``{flag-name: value}`` mapping (no leading dashes) and tag each with its source."""
    return _flags(path, key, data)


def check_env(path: str, key: str, data: dict[Any, Any]) -> dict[str, Setting]:
    """Check a ``{NAME: "value"}`` mapping (values are strings) and tag each with its source."""
    return _env(path, key, data)


def _flags(path: str, key: str, data: dict[Any, Any]) -> dict[str, Setting]:
    out: dict[str, Setting] = {}
    for name, value in data.items():
        dotted = f"{key}.{name}"
        if not isinstance(name, str) or not _FLAG_NAME.match(name):
            hint = f" (write {str(name).lstrip('-')!r})" if str(name).startswith("-") else ""
            raise ConfigError(path, dotted, f"not a flag name like 'tensor-parallel-size'{hint}")
        if not isinstance(value, FlagValue) or value is None:
            raise ConfigError(
                path,
                dotted,
                f"expected true/false, a number or a string, got {type(value).__name__} {value!r}",
            )
        _check_printable(path, dotted, value)
        out[name] = Setting(value, path, dotted)
    return out


def _check_printable(path: str, dotted: str, value: Any) -> None:
    """A value goes into a unit file line and a command line: a newline would add a line of its
    own (an ExecStartPost=, say), so no control characters at all."""
    if isinstance(value, str) and any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ConfigError(
            path,
            dotted,
            f"{value!r} holds a newline or control character, which "
            "would break out of its line in the unit file; write it on one line "
            "without control characters",
        )


def _env(path: str, key: str, data: dict[Any, Any]) -> dict[str, Setting]:
    out: dict[str, Setting] = {}
    for name, value in data.items():
        dotted = f"{key}.{name}"
        if not isinstance(name, str) or not _ENV_NAME.match(name):
            raise ConfigError(path, dotted, "not an environment variable name")
        if not isinstance(value, str):
            raise ConfigError(
                path,
                dotted,
                f'expected a string, got {type(value).__name__} {value!r}; quote it ("{value}")',
            )
        _check_printable(path, dotted, value)
        out[name] = Setting(value, path, dotted)
    return out
