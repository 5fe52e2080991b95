"""The build matrix (images/matrix.yaml): load, validate, and resolve one target's build data."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from vllm_fleet.errors import ConfigError, UnknownNameError
from vllm_fleet.paths import IMAGES_DIR
from vllm_fleet.schema import Field, check_fields, load_yaml

MATRIX_FILE = IMAGES_DIR / "matrix.yaml"

# How vLLM gets into an image, and which template block renders it.
INSTALL_MODES = ("upstream", "wheel", "pip")

_DEFAULT_FIELDS = {
    "hf_home": Field(str),
    "vllm_cache_root": Field(str),
    "nonroot_user": Field(dict),
    "source_url": Field(str),
    "extra_pip": Field(list),
}
_TARGET_FIELDS = {
    "description": Field(str),
    "vllm_version": Field(str),
    "python_version": Field(str),
    "install_mode": Field(str),
    "modes": Field(dict),
    "arch_env": Field(dict),
    **{key: Field(spec.types, required=False) for key, spec in _DEFAULT_FIELDS.items()},
}
# The ROCm release an AMD image is built on: the host's amdgpu kernel driver must be one AMD pairs
# with it (vllm_fleet.serving.vendorgates, against serving/amdgpu-rocm.yaml).
_ROCM = {"rocm_version": Field(str, required=False)}
_MODE_FIELDS = {
    # The upstream release image: a repository only; its tag is v + the target's vllm_version.
    "upstream": {"repository": Field(str), **_ROCM},
    "wheel": {
        **_ROCM,
        "base_image": Field(str),
        "index_urls": Field(list),
        "index_strategy": Field(str),
        "prerelease": Field(bool),
        "uv_requirement": Field(str),
    },
    "pip": {
        "base_image": Field(str),
        "vllm_package": Field(str),
        "torch_requirement": Field(str),
        "torch_index_url": Field(str),
        "remove_packages": Field(list),
        "runtime_packages": Field(list),
    },
}
_USER_FIELDS = {"name": Field(str), "uid": Field(int), "gid": Field(int)}
_VERSION = re.compile(r"^\d+\.\d+\.\d+([.+-]?[0-9A-Za-z.]+)?$")


def upstream_image(repository: str, vllm_version: str) -> str:
    """vLLM's release image of ``vllm_version``: upstream tags releases ``v<version>``
    (``vllm/vllm-openai:v0.32.0``, ``vllm/vllm-openai-rocm:v0.32.0``; see
    https://hub.docker.com/r/vllm/vllm-openai/tags)."""
    return f"{repository}:v{vllm_version}"


@dataclass(frozen=True)
class Target:
    """Everything a template needs to render one target's Dockerfile."""

    name: str
    description: str
    vllm_version: str
    python_version: str
    install_mode: str
    base_image: str
    mode: dict[str, Any]
    arch_env: dict[str, str]
    hf_home: str
    vllm_cache_root: str
    nonroot_user: dict[str, Any]
    source_url: str
    extra_pip: list[str] = field(default_factory=list)
    non_root: bool = False

    @property
    def template(self) -> str:
        return f"{self.name}.Dockerfile.j2"

    def with_overrides(
        self,
        *,
        base_image: str | None = None,
        vllm_version: str | None = None,
        non_root: bool | None = None,
    ) -> Target:
        """Return a copy with build options applied (options win over the matrix)."""
        changes: dict[str, Any] = {}
        if vllm_version:
            if not _VERSION.match(vllm_version):
                raise ConfigError(
                    "--vllm-version", "", f"{vllm_version!r} is not a version like 0.32.0"
                )
            changes["vllm_version"] = vllm_version
            if self.install_mode == "upstream":
                changes["base_image"] = upstream_image(self.mode["repository"], vllm_version)
        if base_image:
            _check_pinned("--base-image", "", base_image)
            if self.install_mode == "upstream":
                _check_release_tag(base_image, vllm_version or self.vllm_version, self.name)
            changes["base_image"] = base_image
        if non_root is not None:
            changes["non_root"] = non_root
        return replace(self, **changes)


class Matrix:
    """The validated contents of images/matrix.yaml."""

    def __init__(self, path: Path = MATRIX_FILE) -> None:
        self.path = path
        data = check_fields(
            path, "", load_yaml(path), {"defaults": Field(dict), "targets": Field(dict)}
        )
        self.defaults = check_fields(path, "defaults", data["defaults"], _DEFAULT_FIELDS)
        check_fields(path, "defaults.nonroot_user", self.defaults["nonroot_user"], _USER_FIELDS)
        self._targets = data["targets"]
        for name in self._targets:
            self._validate(name)

    @property
    def names(self) -> list[str]:
        return list(self._targets)

    def modes(self, name: str) -> list[str]:
        """The install modes a target offers (its first-listed default among them)."""
        self.target(name)  # an unknown name gets the same error everywhere
        return list(self._targets[name]["modes"])

    def target(self, name: str, install_mode: str | None = None) -> Target:
        """Resolve one target; ``install_mode`` picks another of its modes than the default."""
        if name not in self._targets:
            raise UnknownNameError(self.path, "targets", "target", name, self.names)
        raw = {**self.defaults, **self._targets[name]}
        mode_name = install_mode or raw["install_mode"]
        if mode_name not in raw["modes"]:
            raise UnknownNameError(
                self.path, f"targets.{name}.modes", "install mode", mode_name, list(raw["modes"])
            )
        mode = dict(raw["modes"][mode_name])
        if mode_name == "upstream":
            base_image = upstream_image(mode["repository"], raw["vllm_version"])
        else:
            base_image = mode.pop("base_image")
        return Target(
            name=name,
            description=raw["description"],
            vllm_version=raw["vllm_version"],
            python_version=raw["python_version"],
            install_mode=mode_name,
            base_image=base_image,
            mode=mode,
            arch_env={k: str(v) for k, v in raw["arch_env"].items()},
            hf_home=raw["hf_home"],
            vllm_cache_root=raw["vllm_cache_root"],
            nonroot_user=raw["nonroot_user"],
            source_url=raw["source_url"],
            extra_pip=list(raw["extra_pip"]),
        )

    def _validate(self, name: str) -> None:
        where = f"targets.{name}"
        raw = check_fields(self.path, where, self._targets[name], _TARGET_FIELDS)
        if not _VERSION.match(raw["vllm_version"]):
            raise ConfigError(
                self.path,
                f"{where}.vllm_version",
                f"{raw['vllm_version']!r} is not a version like 0.32.0",
            )
        if raw["install_mode"] not in raw["modes"]:
            raise UnknownNameError(
                self.path,
                f"{where}.install_mode",
                "install mode",
                raw["install_mode"],
                list(raw["modes"]),
            )
        for mode_name, mode in raw["modes"].items():
            mode_where = f"{where}.modes.{mode_name}"
            if mode_name not in _MODE_FIELDS:
                raise UnknownNameError(
                    self.path, mode_where, "install mode", mode_name, list(INSTALL_MODES)
                )
            if mode_name == "upstream":
                self._check_upstream(where, mode)
            else:
                check_fields(self.path, mode_where, mode, _MODE_FIELDS[mode_name])
                _check_pinned(self.path, f"{mode_where}.base_image", mode["base_image"])

    def _check_upstream(self, where: str, mode: Any) -> None:
        """The upstream mode names a repository; the tag comes from the target's vllm_version,
        so the two cannot disagree (a mismatch would only show after a multi-GB pull)."""
        mode_where = f"{where}.modes.upstream"
        if isinstance(mode, dict) and "base_image" in mode:
            raise ConfigError(
                self.path,
                f"{mode_where}.base_image",
                f"the upstream image is derived from {where}.vllm_version; write "
                "its repository instead, e.g. `repository: vllm/vllm-openai`",
            )
        check_fields(self.path, mode_where, mode, _MODE_FIELDS["upstream"])
        repository = mode["repository"]
        if "@" in repository or ":" in repository.rpartition("/")[2]:
            raise ConfigError(
                self.path,
                f"{mode_where}.repository",
                f"{repository!r} carries a tag or digest; write the repository "
                f"only: its tag is v + {where}.vllm_version",
            )


def _check_release_tag(ref: str, vllm_version: str, target: str) -> None:
    """An upstream-mode --base-image (a mirror of vLLM's release image) must be tagged with the
    target's vLLM version (``v0.32.0`` or ``0.32.0``, a suffix allowed: ``v0.32.0-mirror``),
    or be pinned by digest alone. Otherwise the build would only find out once the image's
    vLLM is introspected, after the pull and build."""
    name = ref.split("@", 1)[0]
    repository, _, tag = name.rpartition(":")
    if not repository or "/" in tag:
        return  # digest only: nothing here names a version
    if not re.match(rf"^v?{re.escape(vllm_version)}(?![\d.])", tag):
        raise ConfigError(
            "--base-image",
            "",
            f"{ref!r} is not tagged with vLLM {vllm_version}, "
            f"the version of target {target} (images/matrix.yaml: targets.{target}"
            ".vllm_version, or --vllm-version); pass a base tagged "
            f"v{vllm_version} or the matching --vllm-version",
        )


def _check_pinned(path: Path | str, key: str, ref: str) -> None:
    """A base image must be pinned by a tag other than `latest`, or by digest."""
    if "@sha256:" in ref:
        return
    name, _, tag = ref.rpartition(":")
    if not name or "/" in tag:
        raise ConfigError(path, key, f"{ref!r} has no tag; pin it by tag or @sha256 digest")
    if tag in ("latest", "nightly"):
        raise ConfigError(path, key, f"{ref!r} floats; pin a release tag or @sha256 digest")
