"""Build the CI tiny model (train.py) inside the ``cpu`` serving image, through the Docker SDK.

Why in the image: it already holds torch, transformers and tokenizers, so neither this machine
nor a fresh user machine needs them, and the model is made by the same library versions that
serve it. The run is sealed (``--network none``, script and cases mounted read-only) and writes
only its output folder, as the calling user. A hash of the script and the cases, stored beside
the model, lets a second call return at once.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

import docker.errors
import requests

from vllm_fleet.docker_engine import engine, image_exists
from vllm_fleet.errors import TinyModelError
from vllm_fleet.smoke.cases import DEFAULT_CASES, load_cases

TRAIN_SCRIPT = Path(__file__).with_name("train.py")
HASH_FILE = ".vllm-fleet-build-hash"
MODEL_FILES = ("config.json", "model.safetensors", "tokenizer.json", "chat_template.jinja")
CONTAINER_PREFIX = "vllm-fleet-tinymodel-"
TIMEOUT_SECONDS = 1200  # ~10-20 s on 2 cores; generous for a loaded CI machine
# Inside the container: where the inputs are mounted and the model is written.
_IN, _OUT = "/opt/tinymodel", "/out"


def build_tiny_model(
    image: str,
    out_dir: Path,
    cases_file: Path = DEFAULT_CASES,
    *,
    log: Callable[[str], None] | None = None,
) -> Path:
    """Make (or reuse) the Kimi-format tiny model for ``cases_file`` in ``out_dir``.

    + image: the ``cpu`` serving image (e.g. ``vllm-fleet/cpu:0.32.0-<rev>``)
    + out_dir: where the model folder goes; created, or replaced if it holds an older build
    + cases_file: the smoke cases the model must answer (default ``smoke/cases.yaml``)
    + log: called with each line the trainer prints

    Returns ``out_dir``. Raises TinyModelError with the trainer's last lines on failure, and
    refuses to replace a non-empty folder that it did not build.

    **Example:**

        model = build_tiny_model("vllm-fleet/cpu:0.32.0-ea4b673", Path("build/kimi-tiny"))
        # then: docker run ... -v $PWD/build/kimi-tiny:/models/kimi-tiny:ro IMAGE /models/kimi-tiny
    """
    out_dir = Path(out_dir).resolve()
    cases_json = json.dumps(load_cases(cases_file).as_json_data(), indent=1) + "\n"
    digest = build_digest(TRAIN_SCRIPT.read_bytes(), cases_json.encode())
    if is_current(out_dir, digest):
        return out_dir
    _refuse_foreign(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.partial-", dir=out_dir.parent))
    try:
        inputs = staging / "inputs"
        model = staging / "model"
        inputs.mkdir()
        model.mkdir()
        (inputs / "cases.json").write_text(cases_json)
        _train_in_container(image, TRAIN_SCRIPT, inputs / "cases.json", model, log)
        (model / HASH_FILE).write_text(digest + "\n")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        model.rename(out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out_dir


def build_digest(script: bytes, cases_json: bytes) -> str:
    """What the model depends on: the trainer's code and the cases it learns."""
    h = hashlib.sha256()
    for part in (script, cases_json):
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()


def is_current(out_dir: Path, digest: str) -> bool:
    """``out_dir`` holds a complete model built from the same script and cases."""
    stamp = out_dir / HASH_FILE
    return (
        stamp.is_file()
        and stamp.read_text().strip() == digest
        and all((out_dir / name).is_file() for name in MODEL_FILES)
    )


def _refuse_foreign(out_dir: Path) -> None:
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / HASH_FILE).exists():
        raise TinyModelError(
            f"{out_dir} is not empty and holds no tiny model build "
            f"({HASH_FILE} missing); choose an empty or new folder"
        )


def _train_in_container(
    image: str, script: Path, cases: Path, out: Path, log: Callable[[str], None] | None
) -> None:
    client = engine()
    if not image_exists(client, image):  # containers.run would try to pull it from a registry
        raise TinyModelError(
            f"image {image!r} not found; build it with `invoke build --target cpu`"
        )
    try:
        container = client.containers.run(
            image,
            entrypoint=["python3"],
            command=[f"{_IN}/train.py", "--cases", f"{_IN}/cases.json", "--out", _OUT],
            name=f"{CONTAINER_PREFIX}{uuid.uuid4().hex[:12]}",
            network_mode="none",
            user=f"{os.getuid()}:{os.getgid()}",
            environment=_environment(),
            volumes={
                str(script): {"bind": f"{_IN}/train.py", "mode": "ro"},
                str(cases): {"bind": f"{_IN}/cases.json", "mode": "ro"},
                str(out): {"bind": _OUT, "mode": "rw"},
            },
            labels={"ai.vllm-fleet.role": "tinymodel-build"},
            detach=True,
        )
    except docker.errors.APIError as err:
        raise TinyModelError(f"could not start the trainer in {image!r}: {err}") from None
    try:
        _follow(container, log)
        status = container.wait(timeout=TIMEOUT_SECONDS)
    except requests.exceptions.RequestException:  # the SDK's read timeout
        raise TinyModelError(f"the trainer did not finish in {TIMEOUT_SECONDS} s") from None
    else:
        if status.get("StatusCode") != 0:
            tail = container.logs().decode(errors="replace").splitlines()
            raise TinyModelError(f"trainer exited with {status.get('StatusCode')}", tail)
    finally:
        container.remove(force=True)
    _make_readable(out)


def _make_readable(folder: Path) -> None:
    """torch writes the weights 0600; a server running as another user must read them."""
    folder.chmod(0o755)
    for path in folder.iterdir():
        path.chmod(0o644)


def _follow(container: object, log: Callable[[str], None] | None) -> None:
    if log is None:
        return
    for raw in container.logs(stream=True, follow=True):  # type: ignore[attr-defined]
        for line in raw.decode(errors="replace").splitlines():
            log(line)


def _environment() -> dict[str, str]:
    """Keep every write inside the container's /tmp (it goes with the container) and off the
    network: no hub lookups, no torch compile cache in the image's HOME, no progress bars."""
    return {
        "HOME": "/tmp",
        "HF_HOME": "/tmp/huggingface",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        "TORCHINDUCTOR_CACHE_DIR": "/tmp/torchinductor",
        "TOKENIZERS_PARALLELISM": "false",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
