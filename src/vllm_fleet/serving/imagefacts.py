"""Find what is known about a host's image: its vLLM version, container paths and manifest.

GPU images are built on GPU build machines, so a planning machine often lacks the host's own
manifest (build/images/cuda.json). Every target of images/matrix.yaml shares one vLLM version
where upstream publishes it, and the `cpu` image built here carries the same `vllm serve`
argument parser and environment table; so a manifest of another image with the same vLLM version
stands in, and the plan says which. Without any, the plan says plainly nothing was validated.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vllm_fleet.errors import ConfigError, UnknownNameError
from vllm_fleet.images.manifest import ImageManifest, load_manifest, manifest_path
from vllm_fleet.images.matrix import Matrix
from vllm_fleet.paths import MANIFEST_DIR
from vllm_fleet.serving.models import display_path


@dataclass(frozen=True)
class ImageFacts:
    """What is known about the image a host runs, with or without its manifest."""

    target: str
    vllm_version: str
    version_source: str  # the manifest or matrix entry the version came from
    hf_home: str  # container paths (images/matrix.yaml)
    vllm_cache_root: str
    own_manifest: str  # where the host's own manifest is (or would be)
    manifest: ImageManifest | None = None
    manifest_path: str | None = None  # the manifest that validates (own or a stand-in)

    @property
    def stood_in(self) -> bool:
        return self.manifest is not None and self.manifest_path != self.own_manifest


def image_facts(
    target: str,
    *,
    where: str,
    key: str = "image_target",
    manifest_dir: Path = MANIFEST_DIR,
    matrix: Matrix | None = None,
) -> ImageFacts:
    """Facts for an image of matrix target ``target`` (asked for by ``where``/``key``)."""
    matrix = matrix or Matrix()
    if target not in matrix.names:
        raise UnknownNameError(where, key, "image target", target, matrix.names)
    entry = matrix.target(target)
    own = manifest_path(target, manifest_dir)
    manifest, used = _own_or_stand_in(own, target, entry.vllm_version, manifest_dir)
    if manifest is not None and used == own:
        version, version_source = manifest.vllm_version, display_path(own)
    else:
        version = entry.vllm_version
        version_source = f"{display_path(matrix.path)}: targets.{target}.vllm_version"
    return ImageFacts(
        target=target,
        vllm_version=version,
        version_source=version_source,
        hf_home=entry.hf_home,
        vllm_cache_root=entry.vllm_cache_root,
        own_manifest=display_path(own),
        manifest=manifest,
        manifest_path=display_path(used) if used else None,
    )


def _own_or_stand_in(
    own: Path, target: str, version: str, manifest_dir: Path
) -> tuple[ImageManifest | None, Path | None]:
    if own.is_file():
        return load_manifest(own), own
    candidates = []
    for path in sorted(manifest_dir.glob("*.json")):
        try:
            manifest = load_manifest(path)
        except ConfigError:
            continue  # not a manifest of this schema: it cannot vouch for anything
        if manifest.vllm_version == version:
            # Prefer a manifest of the same target (a copy under another name), then by name.
            candidates.append((manifest.target != target, path.name, manifest, path))
    if not candidates:
        return None, None
    _, _, manifest, path = min(candidates, key=lambda c: (c[0], c[1]))
    return manifest, path
