"""Bad build-matrix data fails with one line naming the file, the field and what is valid."""

from __future__ import annotations

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
    (_rename("targets.cpu.vllm_version", "vllm_verison"),
     r"targets\.cpu\.vllm_verison: unknown key; did you mean 'vllm_version'\?"),
    (_set("targets.cpu.vllm_version", 0.32),
     r"targets\.cpu\.vllm_version: expected a string, got float 0\.32"),
    (_set("targets.cpu.vllm_version", "latest"),
     r"targets\.cpu\.vllm_version: 'latest' is not a version like 0\.32\.0"),
    (_set("targets.cuda.modes.upstream.base_image", "vllm/vllm-openai:latest"),
     r"targets\.cuda\.modes\.upstream\.base_image: 'vllm/vllm-openai:latest' floats"),
    (_set("targets.cuda.modes.upstream.base_image", "vllm/vllm-openai"),
     r"targets\.cuda\.modes\.upstream\.base_image: 'vllm/vllm-openai' has no tag"),
    (_set("targets.rocm.install_mode", "conda"),
     r"targets\.rocm\.install_mode: unknown install mode 'conda'; valid: upstream, wheel"),
    (_drop("targets.cuda.modes.wheel.index_urls"),
     r"targets\.cuda\.modes\.wheel\.index_urls: missing \(required\)"),
    (_set("targets.cuda.modes.wheel.prerelease", "yes"),
     r"targets\.cuda\.modes\.wheel\.prerelease: expected true/false, got str 'yes'"),
    (_set("defaults.nonroot_user.uid", True),
     r"defaults\.nonroot_user\.uid: expected an integer, got bool True"),
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
    with pytest.raises(UnknownNameError, match=r"targets\.cpu\.modes: unknown install mode "
                       r"'wheel'; valid: pip$"):
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
