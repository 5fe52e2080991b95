"""Image tasks: render, build, push, lint, base-image. Thin: parse options, call the package."""

from __future__ import annotations

from pathlib import Path

from invoke import Collection, Exit, task

from vllm_fleet.errors import FleetError
from vllm_fleet.images.build import BuildOptions, build_image
from vllm_fleet.images.lint import lint_all
from vllm_fleet.images.manifest import manifest_path, record_manifest
from vllm_fleet.images.matrix import Matrix
from vllm_fleet.images.push import push_target
from vllm_fleet.images.render import write_dockerfile
from vllm_fleet.local import sandbox
from vllm_fleet.local.localbase import LOCAL_BASE_IMAGE, ensure_local_base
from vllm_fleet.paths import INVENTORY_DIR
from vllm_fleet.progress import Progress
from vllm_fleet.serving.unitlint import verify_inventory_units

_TARGET_HELP = "Build target from images/matrix.yaml: cuda, rocm or cpu."
_VARIANT_HELP = {
    "target": _TARGET_HELP,
    "base_image": "Base image instead of the matrix's (e.g. a local mirror), pinned by tag.",
    "vllm_version": "vLLM version instead of the matrix's.",
    "install_mode": "Another install mode the target offers (cuda/rocm: upstream or wheel).",
    "non_root": "Run the image as the matrix's non-root user (uid 2000, gid 0).",
}


def _target(target, base_image=None, vllm_version=None, install_mode=None, non_root=False):
    matrix = Matrix()
    return matrix.target(target, install_mode=install_mode).with_overrides(
        base_image=base_image, vllm_version=vllm_version, non_root=non_root
    )


@task(help=_VARIANT_HELP)
def render(c, target, base_image=None, vllm_version=None, install_mode=None, non_root=False):
    """Write build/<target>/Dockerfile from images/matrix.yaml and images/templates/."""
    try:
        path = write_dockerfile(_target(target, base_image, vllm_version, install_mode, non_root))
    except FleetError as err:
        raise Exit(str(err)) from None
    print(path)


@task(
    iterable=["tag"],
    help={
        **_VARIANT_HELP,
        "tag": "An extra tag (repeatable), e.g. registry.example:5000/vllm-fleet/cpu:prod.",
        "push": "Push every tag after the build and record the repo digests.",
        "ca_bundle": "PEM bundle pip must trust inside the build (TLS-re-signing proxies).",
        "wheelhouse": "Folder of wheels pip may install from (air-gapped sites, CPU torch).",
        "pip_index_url": "A PyPI mirror to use instead of PyPI.",
    },
)
def build(
    c,
    target,
    tag=None,
    push=False,
    base_image=None,
    vllm_version=None,
    install_mode=None,
    non_root=False,
    ca_bundle=None,
    wheelhouse=None,
    pip_index_url=None,
):
    """Build an image through the Docker Engine API and write build/images/<target>.json.

    Shows step N of M and the step's latest output as it builds (plain lines and a heartbeat
    every 15 s when not on a terminal); a failed step prints its last output lines."""
    try:
        spec = _target(target, base_image, vllm_version, install_mode, non_root)
        options = BuildOptions(
            ca_bundle=Path(ca_bundle) if ca_bundle else None,
            wheelhouse=Path(wheelhouse) if wheelhouse else None,
            pip_index_url=pip_index_url,
            extra_tags=tuple(tag or ()),
        )
        progress = Progress()
        with progress.ticking():
            progress.section(f"build {spec.name}")
            result = build_image(spec, options, log=lambda _line: None, progress=progress)
            progress.status("reading the image's vLLM flags and env vars")
            manifest = record_manifest(
                spec.name,
                result.image_id,
                result.tags,
                spec.vllm_version,
                spec.install_mode,
                spec.base_image,
            )
            if push:
                progress.status("push")
                manifest = push_target(spec.name, log=progress.line)
    except FleetError as err:
        raise Exit(str(err)) from None
    print(
        f"built {result.image_id[:19]} as {', '.join(result.tags)} in {result.seconds:.0f} s "
        f"({result.cached_steps}/{result.steps} steps cached)"
    )
    print(
        f"manifest: {manifest_path(spec.name)} ({len(manifest.serve_flags)} serve flags, "
        f"{len(manifest.env_vars)} vLLM env vars)"
    )


@task(
    help={
        "target": _TARGET_HELP,
        "registry": "Push to this registry (host:port) under the same repository and tag, "
        "e.g. 127.0.0.1:5000 (the sandbox registry).",
    }
)
def push(c, target, registry=None):
    """Push a built target's image and record its repo digests in build/images/<target>.json."""
    try:
        manifest = push_target(target, registry)
    except FleetError as err:
        raise Exit(str(err)) from None
    print("\n".join(manifest.repo_digests))


@task(
    iterable=["inventory"],
    help={
        "inventory": "Inventory whose hosts' units to verify (repeatable; default: every one in "
        "inventory/)."
    },
)
def lint(c, inventory=None):
    """hadolint every Dockerfile the matrix can render (config: images/hadolint.yaml) and
    `systemd-analyze verify` the unit of every host."""
    inventories = [Path(p) for p in inventory] if inventory else sorted(INVENTORY_DIR.glob("*.py"))
    if not inventory and not sandbox.hosts_up():
        # inventory/sandbox.py lists the sandbox hosts that are up: none, nothing to verify.
        inventories.remove(sandbox.SANDBOX_INVENTORY)
        print(
            f"skip {sandbox.SANDBOX_INVENTORY.relative_to(INVENTORY_DIR.parent)}: "
            "no sandbox host is up"
        )
    try:
        results = lint_all() + verify_inventory_units(inventories)
    except FleetError as err:
        raise Exit(str(err)) from None
    for result in results:
        print(f"{'ok  ' if result.ok else 'FAIL'} {result.variant}")
        if not result.ok:
            print(result.output)
    if not all(result.ok for result in results):
        raise Exit("hadolint found problems", code=1)


@task(name="base-image", help={"ref": f"Name of the image to make (default {LOCAL_BASE_IMAGE})."})
def base_image(c, ref=LOCAL_BASE_IMAGE):
    """Make a local Debian bookworm base image with debootstrap (no registry needed)."""
    try:
        ensure_local_base(ref)
    except FleetError as err:
        raise Exit(str(err)) from None


ns = Collection(render, build, push, lint, base_image)
