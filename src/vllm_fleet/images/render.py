"""Render a target's Dockerfile from images/templates/ and the build matrix.

Rendering is deterministic (no timestamps, no environment lookups): the same data gives the same
bytes, so golden files catch any drift.
"""

from __future__ import annotations

from pathlib import Path

from vllm_fleet.errors import RenderError
from vllm_fleet.images.matrix import Target
from vllm_fleet.paths import BUILD_DIR, IMAGES_DIR
from vllm_fleet.templating import render, strict_environment

TEMPLATE_DIR = IMAGES_DIR / "templates"
# Where the virtualenv modes (`pip`, `wheel`) put vLLM inside the image.
VENV_DIR = "/opt/vllm"


def render_dockerfile(target: Target) -> str:
    """Return the Dockerfile text for ``target``."""
    return _render(target.template, t=target, venv=VENV_DIR)


def render_venv_script(
    target: Target, venv: str, extras: str, index_url: str = "", torch_index_url: str | None = None
) -> str:
    """The shell script that installs ``target``'s vLLM into ``venv`` on a host (venv runtime):
    the same install steps as the image's build stage, with the site inputs in ``extras``."""
    if target.install_mode not in ("pip", "wheel"):
        raise RenderError(
            "venv-install.sh.j2",
            None,
            f"target {target.name!r} in mode "
            f"{target.install_mode!r} has no virtualenv recipe; use pip or wheel",
        )
    torch = target.mode.get("torch_index_url", "") if torch_index_url is None else torch_index_url
    return _render(
        "venv-install.sh.j2",
        t=target,
        venv=venv,
        extras=extras,
        index_url=index_url,
        torch_index_url=torch,
    )


def _render(name: str, **context: object) -> str:
    return render(strict_environment(TEMPLATE_DIR), name, **context)


def context_dir(target_name: str, build_dir: Path = BUILD_DIR) -> Path:
    """The build context of a target: its rendered Dockerfile and build-extras/."""
    return build_dir / target_name


def write_dockerfile(target: Target, build_dir: Path = BUILD_DIR) -> Path:
    """Render ``target`` to ``build/<target>/Dockerfile`` and return that path."""
    path = context_dir(target.name, build_dir) / "Dockerfile"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_dockerfile(target))
    return path
