"""Run `vllm bench serve` against an endpoint, from a vLLM image, through the Docker SDK.

Why a container: the controller then needs no vLLM, torch or CUDA of its own, and the client is
the same vLLM that serves (any vLLM image has `vllm bench`; the `cpu` image is the light one).
It runs with the host's network (``--network host``), so ``http://127.0.0.1:PORT`` means the
controller's loopback, as it would for a client installed there; as the calling user, so the
result files in DIR are the operator's; and it is removed afterwards, also on Ctrl-C.

The raw ``--save-result`` JSON and the full console output stay in DIR:

    run = run_bench("http://10.0.0.5:8000", "kimi-k2-thinking", get_preset("guide"),
                    Path("runs"), image="vllm/vllm-openai:v0.11.2", label="TP8")
    run.result_file   # runs/TP8-kimi-k2-thinking-20261129-081500.json

A gated model's tokenizer is not fetched with a token here (that would put the token in the
container's config): pass ``tokenizer`` as a local folder, which is mounted read-only.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import re
import shlex
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import docker.errors
import requests
from docker.models.containers import Container

from vllm_fleet.bench.logtail import log_tail
from vllm_fleet.bench.presets import Preset
from vllm_fleet.bench.results import PRESET_KEY, BenchResult, load_result
from vllm_fleet.docker_engine import engine, image_exists
from vllm_fleet.endpoint import base_url
from vllm_fleet.errors import ToolRunError
from vllm_fleet.images.manifest import load_manifest, manifest_path
from vllm_fleet.paths import MANIFEST_DIR, output_folder
from vllm_fleet.serving.secretnames import API_KEY_IN_CONTAINER

CONTAINER_PREFIX = "vllm-fleet-bench-"
TOOL = "vllm bench serve"
# Inside the container: the result folder and a local tokenizer folder.
RESULTS_MOUNT = "/results"
TOKENIZER_MOUNT = "/tokenizer"
# The last line of a Python traceback: ``aiohttp.client_exceptions.ClientConnectorError: ...``
EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Timeout\w*): ")
# Writes stay in the container's /tmp (it goes with the container); no telemetry.
CONTAINER_ENV = {
    "HOME": "/tmp",
    "HF_HOME": "/tmp/huggingface",
    "VLLM_NO_USAGE_STATS": "1",
    "DO_NOT_TRACK": "1",
    "PYTHONDONTWRITEBYTECODE": "1",
}


# `vllm bench serve` sends OPENAI_API_KEY as its bearer token (vllm/benchmarks/lib/
# endpoint_request_func.py); a shell reads it from the mounted file, then runs vllm with the args.
_EXPORT_KEY = (
    f'OPENAI_API_KEY="$(cat {shlex.quote(API_KEY_IN_CONTAINER)})" || exit 1; '
    'export OPENAI_API_KEY; exec "$0" "$@"'
)


@dataclass(frozen=True)
class BenchRun:
    """A finished run: the --save-result file, the console log beside it, and the result."""

    result_file: Path
    log_file: Path
    result: BenchResult


def run_bench(
    url: str,
    model: str,
    preset: Preset,
    out_dir: Path,
    image: str,
    *,
    tokenizer: str | None = None,
    label: str | None = None,
    metadata: dict[str, str] | None = None,
    api_key: str | None = None,
    on_output: Callable[[str], None] | None = None,
) -> BenchRun:
    """Benchmark the endpoint at ``url`` with ``preset``; keep the results in ``out_dir``.

    + url: the server's base URL (``http://HOST:PORT``; a trailing /v1 is fine)
    + model: the served model name requests carry (and the tokenizer, unless ``tokenizer``)
    + image: a vLLM image present on this machine (its `vllm bench serve` is the client)
    + tokenizer: a local model folder (mounted) or a hub id; needed when ``model`` is not one
    + label: the run's name in tables and charts (e.g. TP8); default: the result file's name
    + metadata: extra key=value pairs stored in the result JSON (e.g. the server's KV cache)
    + api_key: the server's API key: a read-only file mounted into the container and exported
      as OPENAI_API_KEY by a shell there (never the container's environment or command line)
    + on_output: called with the tool's console output as it comes (progress bars included)

    Raises ToolRunError with the tool's last lines if it fails, EndpointError for a bad URL.
    """
    out_dir = output_folder(out_dir, "--out")
    stem = result_stem(label or preset.name, model, datetime.now())
    tokenizer_arg, volumes = _tokenizer_mount(tokenizer)
    volumes[str(out_dir)] = {"bind": RESULTS_MOUNT, "mode": "rw"}
    argv = bench_argv(
        base_url(url),
        model,
        preset,
        f"{stem}.json",
        tokenizer=tokenizer_arg,
        label=label,
        metadata=metadata,
    )
    log_file = out_dir / f"{stem}.log"
    with _key_file(api_key) as key_file:
        entrypoint = ["vllm"]
        if key_file:
            volumes[key_file] = {"bind": API_KEY_IN_CONTAINER, "mode": "ro"}
            entrypoint = ["/bin/sh", "-c", _EXPORT_KEY, "vllm"]
        _run_container(image, entrypoint, argv, volumes, log_file, on_output)
    result_file = out_dir / f"{stem}.json"
    if not result_file.exists():
        raise ToolRunError(
            TOOL, f"finished but wrote no {result_file.name} (see {log_file})", log_tail(log_file)
        )
    result = load_result(result_file, label)
    if not result.data["completed"]:
        raise ToolRunError(
            TOOL,
            f"no request succeeded ({result.data['failed']} failed) against "
            f"{url} (model {model!r}): {first_request_error(log_file)}; full "
            f"output: {log_file}",
        )
    return BenchRun(result_file, log_file, result)


def first_request_error(log_file: Path) -> str:
    """What the first failed request died of: `vllm bench serve` prints up to 10 failures as
    ``Error N: <traceback or server message>``; the traceback's last exception line says it."""
    text = log_file.read_text(errors="replace").replace("\r", "\n")
    block = text.partition("Error 0: ")[2].split("\nError 1: ")[0]
    if not block:
        return "the tool printed no request error"
    raised = [line for line in block.splitlines() if EXCEPTION_LINE.match(line)]
    return (raised[-1] if raised else block.splitlines()[0]).strip()[:300]


def bench_argv(
    url: str,
    model: str,
    preset: Preset,
    result_filename: str,
    *,
    tokenizer: str | None = None,
    label: str | None = None,
    metadata: dict[str, str] | None = None,
) -> list[str]:
    """The container's command: ``bench serve``, the run's own flags, then the preset's."""
    argv = ["bench", "serve", "--base-url", url, "--model", model]
    if tokenizer:
        argv += ["--tokenizer", tokenizer]
    if label:
        argv += ["--label", label]
    argv += preset.argv()
    # The preset's name goes into the result, so bench.compare can refuse unlike workloads.
    metadata = {PRESET_KEY: preset.name, **(metadata or {})}
    argv += ["--metadata", *(f"{key}={value}" for key, value in metadata.items())]
    argv += ["--save-result", "--result-dir", RESULTS_MOUNT, "--result-filename", result_filename]
    return argv


def default_image(manifest_dir: Path = MANIFEST_DIR) -> str:
    """The ``cpu`` image this machine built (build/images/cpu.json): the lightest vLLM image
    with `vllm bench`, and the one a controller without GPUs has."""
    manifest = load_manifest(manifest_path("cpu", manifest_dir))
    if not manifest.tags:
        raise ToolRunError(
            TOOL, f"{manifest_path('cpu', manifest_dir)} names no image tag; pass --image"
        )
    return manifest.tags[0]


def result_stem(label: str, model: str, when: datetime) -> str:
    """``TP8-kimi-k2-thinking-20261129-081500``: sortable, and safe as a file name."""
    safe = re.sub(r"[^A-Za-z0-9.+_-]+", "_", f"{label}-{model}")
    return f"{safe}-{when:%Y%m%d-%H%M%S}"


def _tokenizer_mount(tokenizer: str | None) -> tuple[str | None, dict[str, dict[str, str]]]:
    """A local folder is mounted read-only and named by its mount point; a hub id passes."""
    if tokenizer and Path(tokenizer).expanduser().is_dir():
        folder = str(Path(tokenizer).expanduser().resolve())
        return TOKENIZER_MOUNT, {folder: {"bind": TOKENIZER_MOUNT, "mode": "ro"}}
    return tokenizer, {}


@contextlib.contextmanager
def _key_file(api_key: str | None) -> Iterator[str | None]:
    """The key in a private 0600 file for the container to mount; removed afterwards."""
    if not api_key:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="vllm-fleet-bench-") as folder:
        path = Path(folder) / "api-key"
        path.touch(mode=0o600)
        path.write_text(api_key)
        yield str(path)


def _run_container(
    image: str,
    entrypoint: list[str],
    argv: list[str],
    volumes: dict[str, dict[str, str]],
    log_file: Path,
    on_output: Callable[[str], None] | None,
) -> None:
    client = engine()
    # The log stream may be silent for minutes (1000 prompts of 8000 tokens queue before the
    # first finishes): no read timeout on this client.
    client.api.timeout = None
    if not image_exists(client, image):  # containers.run would try to pull it
        raise ToolRunError(
            TOOL,
            f"image {image!r} is not on this machine; `docker pull` it, "
            "or pass --image with a local vLLM image (e.g. the cpu target's)",
        )
    try:
        container = client.containers.run(
            image,
            entrypoint=entrypoint,
            command=argv,
            detach=True,
            network_mode="host",
            name=f"{CONTAINER_PREFIX}{uuid.uuid4().hex[:10]}",
            user=f"{os.getuid()}:{os.getgid()}",
            environment=CONTAINER_ENV,
            volumes=volumes,
            labels={"ai.vllm-fleet.role": "bench"},
        )
    except docker.errors.APIError as err:
        raise ToolRunError(TOOL, f"could not start in {image!r}: {err.explanation}") from None
    try:
        _follow(container, log_file, on_output)
        status = container.wait()
    except requests.exceptions.RequestException as err:
        raise ToolRunError(TOOL, f"lost the Docker engine while waiting ({err})") from None
    finally:
        with contextlib.suppress(docker.errors.APIError):
            container.remove(force=True)
    if status.get("StatusCode") != 0:
        if tokenizer_unreachable(log_file.read_text(errors="replace")):
            raise ToolRunError(
                TOOL,
                "could not load a tokenizer: the model name is not a Hub id "
                "this machine can reach; pass --tokenizer with a local model "
                f"folder or a Hub id (full output: {log_file})",
                log_tail(log_file),
            )
        raise ToolRunError(
            TOOL, f"exited {status.get('StatusCode')} (full output: {log_file})", log_tail(log_file)
        )


# How transformers says it found no tokenizer: no Hub connection, or no such repository.
_NO_TOKENIZER = (
    "couldn't connect to 'https://huggingface.co'",
    "is not a local folder and is not a valid model identifier",
)


def tokenizer_unreachable(log_text: str) -> bool:
    """Whether `vllm bench serve` died loading the tokenizer (before sending any request)."""
    return any(marker in log_text for marker in _NO_TOKENIZER)


def _follow(container: Container, log_file: Path, on_output: Callable[[str], None] | None) -> None:
    """Copy the console output to ``log_file`` and ``on_output`` as it arrives."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    with log_file.open("w") as log:
        for chunk in container.logs(stream=True, follow=True):
            text = decoder.decode(chunk)
            log.write(text)
            if on_output:
                on_output(text)
