"""Build a target's image through the Docker Engine API, streaming the builder's progress.

The Dockerfile built is exactly the one `invoke render` writes (build/<target>/Dockerfile); the
context beside it holds only build-extras/ (an optional CA bundle and wheelhouse).
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from vllm_fleet.docker_engine import engine
from vllm_fleet.errors import BuildError, BuildInputError
from vllm_fleet.gitinfo import Revision, current_revision
from vllm_fleet.images.matrix import Target
from vllm_fleet.images.render import context_dir, write_dockerfile
from vllm_fleet.paths import BUILD_DIR
from vllm_fleet.progress import Progress

Log = Callable[[str], None]
IMAGE_REPOSITORY = "vllm-fleet"
# The classic builder's step header: ``Step 5/16 : RUN pip install ...``.
STEP_LINE = re.compile(r"^Step (?P<n>\d+)/(?P<m>\d+) : (?P<instruction>.*)$")


@dataclass(frozen=True)
class BuildOptions:
    """Site inputs for one build; none of them changes what the Dockerfile says."""

    ca_bundle: Path | None = None
    wheelhouse: Path | None = None
    pip_index_url: str | None = None
    extra_tags: tuple[str, ...] = ()


@dataclass
class BuildResult:
    image_id: str
    tags: list[str]
    steps: int = 0
    cached_steps: int = 0
    seconds: float = 0.0
    log: list[str] = field(default_factory=list)


def default_tag(target: Target, revision: Revision) -> str:
    """``vllm-fleet/<target>:<vllm version>-<git revision>``: what, which vLLM, which commit."""
    suffix = re.sub(r"[^A-Za-z0-9_.-]", "-", f"{target.vllm_version}-{revision.ref}")
    return f"{IMAGE_REPOSITORY}/{target.name}:{suffix[:128]}"


def prepare_context(target: Target, options: BuildOptions, build_dir: Path = BUILD_DIR) -> Path:
    """Write the Dockerfile and fill build-extras/; return the context folder."""
    _check_inputs(options)
    write_dockerfile(target, build_dir)
    ctx = context_dir(target.name, build_dir)
    extras = ctx / "build-extras"
    shutil.rmtree(extras, ignore_errors=True)
    (extras / "wheels").mkdir(parents=True)
    if options.ca_bundle:
        shutil.copyfile(options.ca_bundle, extras / "ca-bundle.crt")
    if options.wheelhouse:
        for wheel in sorted(options.wheelhouse.glob("*.whl")):
            _link_or_copy(wheel, extras / "wheels" / wheel.name)
    return ctx


def build_args(dockerfile: str, options: BuildOptions, revision: Revision) -> dict[str, str]:
    """The build args to pass: only those the rendered Dockerfile declares."""
    wanted = {"VCS_REF": revision.ref, "BUILD_DATE": revision.commit_time}
    if options.pip_index_url:
        wanted["INDEX_URL"] = options.pip_index_url
    if options.wheelhouse:
        # The wheelhouse replaces PyTorch's CPU index (unreachable where a wheelhouse is needed).
        wanted["TORCH_INDEX_URL"] = ""
    declared = set(re.findall(r"^ARG (\w+)", dockerfile, flags=re.MULTILINE))
    return {key: value for key, value in wanted.items() if key in declared}


def build_image(
    target: Target,
    options: BuildOptions = BuildOptions(),
    log: Log = print,
    build_dir: Path = BUILD_DIR,
    progress: Progress | None = None,
) -> BuildResult:
    """Build ``target``; return its image id, tags and how many steps came from cache.

    ``log`` gets every line the builder prints; ``progress``, if given, the step running (step
    N of M and its instruction) and that step's latest output."""
    client = engine()
    revision = current_revision()
    ctx = prepare_context(target, options, build_dir)
    dockerfile = (ctx / "Dockerfile").read_text()
    tags = [default_tag(target, revision), *options.extra_tags]
    result = BuildResult(image_id="", tags=tags)
    started = time.monotonic()
    if progress:  # the engine reads the whole context (a wheelhouse: GBs) before step 1
        progress.status("sending the build context to the Docker engine")
    stream = client.api.build(
        path=str(ctx),
        dockerfile="Dockerfile",
        tag=tags[0],
        buildargs=build_args(dockerfile, options, revision),
        rm=True,
        forcerm=True,
        pull=False,
        decode=True,
    )
    for chunk in stream:
        follow(chunk, result, target.name, log, progress)
    if not result.image_id:
        raise BuildError(target.name, "the engine reported no image id", result.log)
    for tag in tags[1:]:
        repository, _, name = tag.rpartition(":")
        client.api.tag(result.image_id, repository, name)
    result.seconds = time.monotonic() - started
    return result


def follow(
    chunk: dict, result: BuildResult, target: str, log: Log, progress: Progress | None = None
) -> None:
    """Take one decoded chunk of the Engine API's build stream into ``result``.

    A ``stream`` chunk may hold several lines (a RUN step's output) or half of one (the step
    header and its newline come apart); each non-empty line is handled on its own."""
    if "error" in chunk:
        raise BuildError(target, chunk["error"].strip(), result.log)
    if "aux" in chunk and "ID" in chunk["aux"]:
        result.image_id = chunk["aux"]["ID"]
    for raw in chunk.get("stream", "").splitlines():
        line = raw.rstrip()
        if line.strip():
            _follow_line(line, result, log, progress)


def _follow_line(line: str, result: BuildResult, log: Log, progress: Progress | None) -> None:
    result.log.append(line)
    step = STEP_LINE.match(line)
    if step:
        result.steps += 1
    elif "Using cache" in line:
        result.cached_steps += 1
    log(line)
    if progress is None:
        return
    if step:
        progress.status(f"step {step['n']}/{step['m']}: {step['instruction']}")
    elif not line.startswith((" ---> ", "Removing intermediate container")):
        progress.detail(line)


def _check_inputs(options: BuildOptions) -> None:
    if options.ca_bundle is not None:
        bundle = options.ca_bundle
        if not bundle.is_file():
            raise BuildInputError(
                "--ca-bundle",
                str(bundle),
                "no such file (give a PEM bundle, e.g. /etc/ssl/certs/ca-certificates.crt)",
            )
        if b"-----BEGIN CERTIFICATE-----" not in bundle.read_bytes()[:1_000_000]:
            raise BuildInputError("--ca-bundle", str(bundle), "holds no PEM certificate")
    if options.wheelhouse is not None:
        if not options.wheelhouse.is_dir():
            raise BuildInputError("--wheelhouse", str(options.wheelhouse), "no such directory")
        if not any(options.wheelhouse.glob("*.whl")):
            raise BuildInputError("--wheelhouse", str(options.wheelhouse), "holds no .whl file")


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
