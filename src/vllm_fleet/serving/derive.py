"""What the runtimes need, derived from a merged and checked spec: the `vllm serve` argv, the
credentials by reference, the container's volumes, the unit's settings, the image to run and the
fleet-level warnings."""

from __future__ import annotations

from dataclasses import dataclass

from vllm_fleet.errors import ConfigError
from vllm_fleet.hostdata import HostSettings
from vllm_fleet.images.manifest import ImageManifest
from vllm_fleet.serving.checks import DP, PP, TP, int_flag
from vllm_fleet.serving.hardening import VenvConfinement, venv_confinement
from vllm_fleet.serving.imagefacts import ImageFacts
from vllm_fleet.serving.inventory import HostData
from vllm_fleet.serving.layers import OWN, hf_cache, vllm_cache
from vllm_fleet.serving.models import ModelFile, Setting
from vllm_fleet.serving.secretnames import API_KEY_ENV, API_KEY_IN_CONTAINER, HF_TOKEN_ENV
from vllm_fleet.serving.supervision import Supervision, supervision


@dataclass(frozen=True)
class Credential:
    """A secret by reference: where the deploy reads it and where it puts it on the host."""

    name: str  # hf_token | vllm_api_key
    env: str  # the variable its consumer reads
    source: str  # on the controller: env:NAME or file:/path
    host_path: str  # on the host, root-only 0600, written by the deploy
    used_by: str
    container_path: str = ""  # where the container sees it (read-only), if the service uses it


@dataclass(frozen=True)
class Mount:
    host_path: str
    container_path: str
    read_only: bool = False


@dataclass(frozen=True)
class UnitSettings:
    name: str
    path: str
    start_timeout_s: int
    stop_grace_s: int
    restart_delay_s: int
    docker_bin: str | None
    venv_dir: str | None
    supervision: Supervision | None = None
    confinement: VenvConfinement | None = None  # runtime venv: who and where the server may write


@dataclass(frozen=True)
class Weights:
    repo_id: str
    revision: str
    size_bytes: int
    host_cache: str  # the HF cache folder on the host (HF_HOME), where the deploy downloads


def argv(model: ModelFile, port: int, flags: dict[str, Setting]) -> tuple[str, ...]:
    return (
        "vllm",
        "serve",
        model.repo_id,
        "--served-model-name",
        model.served_model_name,
        "--revision",
        model.revision,
        "--port",
        str(port),
        *flag_args(flags),
    )


def flag_args(flags: dict[str, Setting]) -> tuple[str, ...]:
    """``vllm serve`` arguments from model-file flags (true: bare flag; false: left out)."""
    args: list[str] = []
    for name, setting in flags.items():
        if setting.value is True:
            args.append(f"--{name}")
        elif setting.value is not False:
            args += [f"--{name}", str(setting.value)]
    return tuple(args)


def credentials(h: HostSettings, env_names: set[str]) -> tuple[Credential, ...]:
    secrets_dir = h.vllm_secrets_dir
    out = []
    hf = _secret_source(h.hf_token_file, HF_TOKEN_ENV, env_names)
    if hf:
        out.append(
            Credential(
                "hf_token",
                HF_TOKEN_ENV,
                hf,
                f"{secrets_dir}/hf-token",
                "weights download only: the server runs with HF_HUB_OFFLINE=1",
            )
        )
    key = _secret_source(h.vllm_api_key_file, API_KEY_ENV, env_names)
    if key:
        out.append(
            Credential(
                "vllm_api_key",
                API_KEY_ENV,
                key,
                f"{secrets_dir}/vllm-api-key",
                f"vllm serve (read from the file at start, exported as {API_KEY_ENV})",
                container_path=API_KEY_IN_CONTAINER,
            )
        )
    return tuple(out)


def _secret_source(file: str | None, env: str, env_names: set[str]) -> str | None:
    if file:
        return f"file:{file}"
    return f"env:{env}" if env in env_names else None


def volumes(
    h: HostSettings, image: ImageFacts, credentials: tuple[Credential, ...]
) -> tuple[Mount, ...]:
    if h.runtime != "container":
        return ()
    mounts = [Mount(hf_cache(h), image.hf_home), Mount(vllm_cache(h), image.vllm_cache_root)]
    mounts += [
        Mount(c.host_path, c.container_path, read_only=True)
        for c in credentials
        if c.container_path
    ]
    return tuple(mounts)


def unit(h: HostSettings) -> UnitSettings:
    name = h.vllm_unit_name
    return UnitSettings(
        name=name,
        path=f"/etc/systemd/system/{name}.service",
        start_timeout_s=h.vllm_start_timeout_s,
        stop_grace_s=h.vllm_stop_grace_s,
        restart_delay_s=h.vllm_restart_delay_s,
        docker_bin=h.docker_bin if h.runtime == "container" else None,
        venv_dir=h.vllm_venv_dir if h.runtime == "venv" else None,
        supervision=supervision(h, container=h.runtime == "container"),
        confinement=venv_confinement(h) if h.runtime == "venv" else None,
    )


def image_ref(
    host: HostData, h: HostSettings, image: ImageFacts, warnings: list[str]
) -> str | None:
    """The image to run: the host's reference, else the tag its own target's manifest records."""
    if h.runtime != "container":
        return None
    manifest = image.manifest
    if h.image is not None:
        ref = h.image
        if manifest is not None and not image.stood_in and not _names_image(manifest, ref):
            warnings.append(
                f"image {ref} ({host.source('image')}) is not the image "
                f"{image.manifest_path} records ({', '.join(manifest.tags)}); "
                "checked against that manifest's vLLM "
                f"{manifest.vllm_version} anyway"
            )
        return ref
    if manifest is not None and manifest.target == h.image_target and manifest.tags:
        if h.image_registry:
            return _pushed_digest(host, h, manifest, image.own_manifest)
        return manifest.tags[0]
    where = host.sources.get("image", host.source("image_target"))
    raise ConfigError(
        where,
        "image",
        f"missing, and no manifest of a "
        f"{h.image_target!r} image records a tag ({image.own_manifest}); set "
        f"image or build it (`invoke build --target {h.image_target}`)",
    )


def _pushed_digest(
    host: HostData, h: HostSettings, manifest: ImageManifest, manifest_file: str
) -> str:
    """``<image_registry>/<repository>@sha256:...``: the repo digest `invoke push` recorded for
    the image's repository in that registry (pushed under ``image_registry_push_address`` when
    the controller reaches it by another name; a digest names content, so it holds under both)."""
    registry = h.image_registry
    pushed_to = h.image_registry_push_address or registry
    repository = _repository(manifest.tags[0])
    for digest_ref in manifest.repo_digests:
        name, _, digest = digest_ref.partition("@")
        if name == f"{pushed_to}/{repository}":
            return f"{registry}/{repository}@{digest}"
    raise ConfigError(
        manifest_file,
        "repo_digests",
        f"no digest of {repository} pushed to "
        f"{pushed_to} (image_registry, {host.source('image_registry')}); push "
        f"it: `invoke push --target {h.image_target} --registry {pushed_to}`",
    )


def _repository(tag: str) -> str:
    """The repository path of a tag, without registry or tag: ``vllm-fleet/cpu``."""
    name = tag.rpartition(":")[0] if ":" in tag.rpartition("/")[2] else tag
    first, _, rest = name.partition("/")
    registry_like = rest and ("." in first or ":" in first or first == "localhost")
    return rest if registry_like else name


def _names_image(manifest: ImageManifest, ref: str) -> bool:
    return ref in manifest.tags or ref in manifest.repo_digests or ref == manifest.image_id


def fleet_warnings(
    host: HostData,
    h: HostSettings,
    flags: dict[str, Setting],
    image_ref: str | None,
    credentials: tuple[Credential, ...],
    warnings: list[str],
) -> None:
    if image_ref and h.image_pull and "@sha256:" not in image_ref:
        warnings.append(
            f"image {image_ref} ({host.source('image')}) is pinned by tag only; "
            "pin it by digest (name@sha256:...) so every host runs the same bytes"
        )
    if not any(c.name == "vllm_api_key" for c in credentials):
        warnings.append(
            f"no API key (vllm_api_key_file or {API_KEY_ENV} on the controller): "
            f"the /v1 endpoints on port {h.vllm_port} are open to anyone who can "
            "reach them"
        )
    if h.gpu_vendor != "none":
        used = int_flag(flags, TP) * int_flag(flags, PP) * int_flag(flags, DP)
        if used < h.gpu_count:
            warnings.append(
                f"uses {used} of {h.gpu_count} GPUs ({host.source('gpu_count')}: gpu_count)"
            )


def sources(flags: dict[str, Setting], env: dict[str, Setting]) -> tuple[tuple[str, str], ...]:
    """Where each flag and variable was written: ``--flag`` / ``NAME`` -> ``file: key``."""
    out = [(f"--{name}", f"{s.path}: {s.key}") for name, s in flags.items()]
    out += [(name, f"{s.path}: {s.key}" if s.path != OWN else OWN) for name, s in env.items()]
    return tuple(out)
