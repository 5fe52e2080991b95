"""Bad build-matrix data fails with one line naming the file, the field and what is valid."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from vllm_fleet.errors import ConfigError, UnknownNameError
from vllm_fleet.images.matrix import MATRIX_FILE, Matrix


def _matrix_with(tmp_path: Path, edit) -> Path:
    data = yaml.safe_load(MATRIX_FILE.read_text())
    edit(data)
    path = tmp_path / "matrix.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _parent(data: dict, keys: str) -> tuple[dict, str]:
    *parents, last = keys.split(".")
    for key in parents:
        data = data[key]
    return data, last


def _drop(keys: str):
    def edit(data):
        node, last = _parent(data, keys)
        del node[last]

    return edit


def _set(keys: str, value):
    def edit(data):
        node, last = _parent(data, keys)
        node[last] = value

    return edit


def _rename(keys: str, new: str):
    def edit(data):
        node, last = _parent(data, keys)
        node[new] = node.pop(last)

    return edit


BAD_MATRICES = [
    # (edit, expected message after "<file>: ")
    (_drop("targets.cpu.vllm_version"), r"targets\.cpu\.vllm_version: missing \(required\)"),
    (
        _rename("targets.cpu.vllm_version", "vllm_verison"),
        r"targets\.cpu\.vllm_verison: unknown key; did you mean 'vllm_version'\?",
    ),
    (
        _set("targets.cpu.vllm_version", 0.32),
        r"targets\.cpu\.vllm_version: expected a string, got float 0\.32",
    ),
    (
        _set("targets.cpu.vllm_version", "latest"),
        r"targets\.cpu\.vllm_version: 'latest' is not a version like 0\.32\.0",
    ),
    (
        _set("targets.cuda.modes.wheel.base_image", "nvidia/cuda:latest"),
        r"targets\.cuda\.modes\.wheel\.base_image: 'nvidia/cuda:latest' floats",
    ),
    (
        _set("targets.cuda.modes.wheel.base_image", "nvidia/cuda"),
        r"targets\.cuda\.modes\.wheel\.base_image: 'nvidia/cuda' has no tag",
    ),
    # The upstream tag is derived from vllm_version: a second copy of it is refused.
    (
        _set("targets.cuda.modes.upstream.base_image", "vllm/vllm-openai:v0.31.0"),
        r"targets\.cuda\.modes\.upstream\.base_image: the upstream image is derived from "
        r"targets\.cuda\.vllm_version; write its repository instead, e\.g\. `repository: "
        r"vllm/vllm-openai`$",
    ),
    (
        _set("targets.rocm.modes.upstream.repository", "vllm/vllm-openai-rocm:v0.31.0"),
        r"targets\.rocm\.modes\.upstream\.repository: 'vllm/vllm-openai-rocm:v0\.31\.0' carries "
        r"a tag or digest; write the repository only: its tag is v \+ targets\.rocm\.vllm_version$",
    ),
    (
        _drop("targets.cuda.modes.upstream.repository"),
        r"targets\.cuda\.modes\.upstream\.repository: missing \(required\)",
    ),
    (
        _set("targets.rocm.install_mode", "conda"),
        r"targets\.rocm\.install_mode: unknown install mode 'conda'; valid: upstream, wheel",
    ),
    (
        _drop("targets.cuda.modes.wheel.index_urls"),
        r"targets\.cuda\.modes\.wheel\.index_urls: missing \(required\)",
    ),
    (
        _set("targets.cuda.modes.wheel.prerelease", "yes"),
        r"targets\.cuda\.modes\.wheel\.prerelease: expected true/false, got str 'yes'",
    ),
    (
        _set("defaults.nonroot_user.uid", True),
        r"defaults\.nonroot_user\.uid: expected an integer, got bool True",
    ),
    (_drop("defaults"), r"defaults: missing \(required\)"),
]


@pytest.mark.parametrize(("edit", "message"), BAD_MATRICES)
def test_bad_matrix_is_one_clear_line(tmp_path: Path, edit, message: str) -> None:
    path = _matrix_with(tmp_path, edit)
    with pytest.raises(ConfigError, match=f"^{path}: {message}") as info:
        Matrix(path)
    assert "\n" not in str(info.value)


def test_not_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "matrix.yaml"
    path.write_text("targets:\n  cpu: [unclosed\n")
    with pytest.raises(ConfigError, match=rf"^{path}: line \d+: not valid YAML"):
        Matrix(path)


def test_unknown_target_lists_the_valid_ones() -> None:
    message = r"matrix\.yaml: targets: unknown target 'tpu'; valid: cpu, cuda, rocm$"
    with pytest.raises(UnknownNameError, match=message):
        Matrix().target("tpu")


def test_unknown_install_mode_for_a_target() -> None:
    with pytest.raises(
        UnknownNameError,
        match=r"targets\.cpu\.modes: unknown install mode "
        r"'wheel'; valid: pip$",
    ):
        Matrix().target("cpu", install_mode="wheel")


def test_the_repository_matrix_is_valid_and_pinned() -> None:
    matrix = Matrix()
    assert matrix.names == ["cuda", "rocm", "cpu"]
    versions = {matrix.target(name).vllm_version for name in matrix.names}
    assert versions == {"0.32.0"}, "targets share one vLLM version so cpu vouches for the GPUs"
    assert matrix.target("cuda").arch_env == {"TORCH_CUDA_ARCH_LIST": "9.0"}


def test_a_floating_base_image_override_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"^--base-image: 'debian:latest' floats"):
        Matrix().target("cpu").with_overrides(base_image="debian:latest")


def test_the_upstream_base_tag_is_derived_from_the_vllm_version() -> None:
    matrix = Matrix()
    for name, repository in (("cuda", "vllm/vllm-openai"), ("rocm", "vllm/vllm-openai-rocm")):
        target = matrix.target(name)
        assert target.install_mode == "upstream"
        assert target.base_image == f"{repository}:v{target.vllm_version}"


def test_another_vllm_version_moves_the_upstream_base_with_it() -> None:
    target = Matrix().target("cuda").with_overrides(vllm_version="0.31.1")
    assert target.base_image == "vllm/vllm-openai:v0.31.1"
    wheel = Matrix().target("cuda", install_mode="wheel").with_overrides(vllm_version="0.31.1")
    assert wheel.base_image == "nvidia/cuda:12.9.1-devel-ubuntu24.04"


@pytest.mark.parametrize(
    "ref",
    [
        "mirror.example:5000/vllm/vllm-openai:v0.32.0",
        "mirror.example:5000/vllm/vllm-openai:0.32.0-cu129",
        "vllm/vllm-openai@sha256:" + "a" * 64,
    ],
)
def test_an_upstream_mirror_of_the_same_version_is_accepted(ref: str) -> None:
    assert Matrix().target("cuda").with_overrides(base_image=ref).base_image == ref


@pytest.mark.parametrize(
    "ref,version",
    [
        ("mirror.example:5000/vllm/vllm-openai:v0.31.0", None),
        ("vllm/vllm-openai:v0.32.0.post1", None),
        ("vllm/vllm-openai:v0.32.0", "0.31.0"),
    ],
)
def test_an_upstream_base_of_another_version_is_refused_before_the_build(
    ref: str, version: str | None
) -> None:
    expected = version or "0.32.0"
    with pytest.raises(
        ConfigError,
        match=(
            rf"^--base-image: '{re.escape(ref)}' is not tagged with vLLM {re.escape(expected)}, "
            r"the version of target cuda \(images/matrix\.yaml: targets\.cuda\.vllm_version, "
            r"or --vllm-version\); pass a base tagged v"
        ),
    ):
        Matrix().target("cuda").with_overrides(base_image=ref, vllm_version=version)
