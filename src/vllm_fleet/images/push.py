"""Push a built image and record its repo digests in its manifest (build/images/<target>.json).

`invoke push --target cpu` pushes the tags the build gave the image; with ``--registry
host:port`` it first tags the image into that registry (same repository path and tag), so a
locally built image can go to a site or sandbox registry without a rebuild.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from vllm_fleet.docker_engine import engine
from vllm_fleet.errors import BuildError
from vllm_fleet.images.manifest import (
    ImageManifest,
    load_manifest,
    manifest_path,
    write_manifest,
)
from vllm_fleet.paths import MANIFEST_DIR

Log = Callable[[str], None]


def registry_tag(tag: str, registry: str) -> str:
    """``vllm-fleet/cpu:0.32.0-abc`` in ``registry``: ``registry/vllm-fleet/cpu:0.32.0-abc``."""
    return f"{registry.rstrip('/')}/{tag}"


def push_target(
    target: str, registry: str | None = None, manifest_dir: Path = MANIFEST_DIR, log: Log = print
) -> ImageManifest:
    """Push the target's image (to ``registry`` if given); write and return its manifest with
    the repo digest each push reported (replacing older digests of the same repositories)."""
    manifest = load_manifest(manifest_path(target, manifest_dir))
    tags = manifest.tags
    if registry:
        tag = registry_tag(manifest.tags[0], registry)
        repository, _, name = tag.rpartition(":")
        engine().api.tag(manifest.image_id, repository, name)
        tags = [tag]
    pushed = [push_tag(tag, log) for tag in tags]
    repositories = {ref.partition("@")[0] for ref in pushed}
    kept = [ref for ref in manifest.repo_digests if ref.partition("@")[0] not in repositories]
    updated = replace(
        manifest,
        tags=list(dict.fromkeys([*manifest.tags, *tags])),
        repo_digests=sorted({*kept, *pushed}),
    )
    write_manifest(updated, manifest_dir)
    return updated


def push_tag(tag: str, log: Log = print) -> str:
    """Push one tag; return ``repository@sha256:...`` as the registry acknowledged it (the
    engine may also list digests of earlier pushes elsewhere; this one is the registry's now)."""
    repository, _, name = tag.rpartition(":")
    digest = ""
    for chunk in engine().api.push(repository, tag=name, stream=True, decode=True):
        if "error" in chunk:
            raise BuildError(tag, f"push failed: {chunk['error']}")
        digest = chunk.get("aux", {}).get("Digest", digest)
        if chunk.get("status") and chunk.get("id") is None:
            log(f"push {tag}: {chunk['status']}")
    if not digest:
        raise BuildError(tag, "push finished without the registry's digest")
    return f"{repository}@{digest}"
