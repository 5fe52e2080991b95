"""Build options are checked before the engine is asked for anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from vllm_fleet.docker_engine import engine
from vllm_fleet.errors import BuildInputError, DockerUnavailableError
from vllm_fleet.gitinfo import Revision
from vllm_fleet.images.build import BuildOptions, build_args, default_tag, prepare_context
from vllm_fleet.images.matrix import Matrix
from vllm_fleet.images.render import render_dockerfile

REVISION = Revision(ref="0123456789ab-dirty", commit_time="2026-11-29T07:00:00+00:00")
PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def test_missing_ca_bundle_is_named(tmp_path: Path) -> None:
    options = BuildOptions(ca_bundle=tmp_path / "nope.crt")
    with pytest.raises(BuildInputError, match=rf"^--ca-bundle {tmp_path}/nope\.crt: no such file"):
        prepare_context(Matrix().target("cpu"), options, tmp_path)


def test_a_ca_bundle_without_certificates_is_refused(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle.crt"
    bundle.write_text("not a certificate\n")
    with pytest.raises(BuildInputError, match="holds no PEM certificate"):
        prepare_context(Matrix().target("cpu"), BuildOptions(ca_bundle=bundle), tmp_path)


def test_empty_wheelhouse_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BuildInputError, match=r"^--wheelhouse .*: holds no \.whl file$"):
        prepare_context(Matrix().target("cpu"), BuildOptions(wheelhouse=tmp_path), tmp_path)


def test_context_holds_dockerfile_bundle_and_wheels(tmp_path: Path) -> None:
    bundle = tmp_path / "site.crt"
    bundle.write_text(PEM)
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    (wheels / "torch-2.13.0+cpu-cp311-cp311-linux_x86_64.whl").write_bytes(b"wheel")
    (wheels / "README").write_text("not a wheel")
    target = Matrix().target("cpu")
    ctx = prepare_context(
        target, BuildOptions(ca_bundle=bundle, wheelhouse=wheels), tmp_path / "build"
    )
    assert (ctx / "Dockerfile").read_text() == render_dockerfile(target)
    assert (ctx / "build-extras" / "ca-bundle.crt").read_text() == PEM
    assert sorted(p.name for p in (ctx / "build-extras" / "wheels").iterdir()) == [
        "torch-2.13.0+cpu-cp311-cp311-linux_x86_64.whl"
    ]


def test_context_of_a_plain_build_has_empty_extras(tmp_path: Path) -> None:
    ctx = prepare_context(Matrix().target("cpu"), BuildOptions(), tmp_path)
    assert [p.name for p in (ctx / "build-extras").rglob("*")] == ["wheels"]


def test_only_declared_build_args_are_passed() -> None:
    options = BuildOptions(wheelhouse=Path("/w"), pip_index_url="https://mirror/simple")
    cpu = build_args(render_dockerfile(Matrix().target("cpu")), options, REVISION)
    assert cpu == {
        "VCS_REF": REVISION.ref,
        "BUILD_DATE": REVISION.commit_time,
        "INDEX_URL": "https://mirror/simple",
        "TORCH_INDEX_URL": "",
    }
    upstream = build_args(render_dockerfile(Matrix().target("cuda")), options, REVISION)
    assert upstream == {"VCS_REF": REVISION.ref, "BUILD_DATE": REVISION.commit_time}


def test_tag_carries_target_vllm_version_and_revision() -> None:
    assert (
        default_tag(Matrix().target("rocm"), REVISION)
        == "vllm-fleet/rocm:0.32.0-0123456789ab-dirty"
    )


def test_unreachable_engine_says_how_to_start_one(monkeypatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    with pytest.raises(
        DockerUnavailableError,
        match=r"^cannot reach the Docker engine \(.*\); "
        r"start it with `scripts/host-prereqs.sh`",
    ) as info:
        engine()
    assert "\n" not in str(info.value)
