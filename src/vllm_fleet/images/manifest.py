"""The image manifest (build/images/<target>.json): what an image is and what its vLLM knows.

Besides identity (id, tags, digests, labels), it records two lists read from inside the built
image: the environment variables its vLLM declares (``vllm.envs.environment_variables``) and the
options its ``vllm serve`` parser accepts. The deploy checks a host's settings against them
before anything restarts.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from vllm_fleet.errors import BuildError, ConfigError
from vllm_fleet.paths import MANIFEST_DIR

# The script runs inside the image with the image's own Python; it imports only vLLM.
INTROSPECT_SCRIPT = Path(__file__).with_name("introspect_vllm.py")
MANIFEST_SCHEMA = 1


@dataclass(frozen=True)
class ImageManifest:
    target: str
    image_id: str
    tags: list[str]
    vllm_version: str
    install_mode: str
    base_image: str
    labels: dict[str, str]
    env_vars: list[str]
    serve_flags: list[str]
    repo_digests: list[str] = field(default_factory=list)
    # The ROCm release inside a ROCm image (None elsewhere): the host's amdgpu driver is checked
    # against it (serving/vendorgates.py).
    rocm_version: str | None = None
    schema: int = MANIFEST_SCHEMA

    def knows_env(self, name: str) -> bool:
        return name in self.env_vars

    def accepts_flag(self, flag: str) -> bool:
        """True if ``vllm serve`` in this image accepts ``flag`` (``--x`` or ``--x=value``)."""
        return flag.split("=", 1)[0] in self.serve_flags


def manifest_path(target: str, manifest_dir: Path = MANIFEST_DIR) -> Path:
    return manifest_dir / f"{target}.json"


def write_manifest(manifest: ImageManifest, manifest_dir: Path = MANIFEST_DIR) -> Path:
    path = manifest_path(manifest.target, manifest_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(manifest), indent=2, sort_keys=True) + "\n")
    return path


def load_manifest(path: Path) -> ImageManifest:
    """Read a manifest written by `invoke build`; ConfigError names the file and field."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(
            path, "", f"no image manifest; run `invoke build --target {path.stem}` first"
        ) from None
    except json.JSONDecodeError as err:
        raise ConfigError(path, "", f"not valid JSON ({err.msg}, line {err.lineno})") from None
    if data.get("schema") != MANIFEST_SCHEMA:
        raise ConfigError(
            path,
            "schema",
            f"expected {MANIFEST_SCHEMA}, got {data.get('schema')!r}; rebuild the image",
        )
    try:
        return ImageManifest(**data)
    except TypeError as err:
        raise ConfigError(path, "", f"unexpected manifest shape ({err})") from None


def read_vllm_facts(image: str) -> dict:
    """Run the introspection script in ``image`` (no network) and return what it printed."""
    from vllm_fleet.docker_engine import engine

    client = engine()
    try:
        output = client.containers.run(
            image,
            entrypoint=["python3", "-c", INTROSPECT_SCRIPT.read_text()],
            network_disabled=True,
            remove=True,
            stdout=True,
            stderr=False,
        )
    except Exception as err:  # docker.errors.ContainerError carries the stderr
        raise BuildError(image, f"could not read vLLM's flags and env vars: {err}") from err
    return json.loads(output.decode().strip().splitlines()[-1])


def record_manifest(
    target_name: str,
    image_id: str,
    tags: list[str],
    expected_vllm: str,
    install_mode: str,
    base_image: str,
    manifest_dir: Path = MANIFEST_DIR,
) -> ImageManifest:
    """Introspect a freshly built image, check its vLLM version, and write its manifest."""
    from packaging.version import Version

    from vllm_fleet.docker_engine import engine

    facts = read_vllm_facts(image_id)
    found = facts["vllm_version"]
    if Version(found).public != Version(expected_vllm).public:
        raise BuildError(
            target_name,
            f"the image holds vLLM {found}, the matrix says "
            f"{expected_vllm}; check the base image or --vllm-version",
        )
    attrs = engine().images.get(image_id).attrs
    manifest = ImageManifest(
        target=target_name,
        image_id=image_id,
        tags=tags,
        vllm_version=Version(found).public,
        install_mode=install_mode,
        base_image=base_image,
        labels=dict(attrs["Config"].get("Labels") or {}),
        env_vars=facts["env_vars"],
        serve_flags=facts["serve_flags"],
        repo_digests=list(attrs.get("RepoDigests") or []),
        rocm_version=facts.get("rocm_version"),
    )
    write_manifest(manifest, manifest_dir)
    return manifest
