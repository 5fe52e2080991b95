"""Model weights: downloaded once per host, pinned revision, into the data disk, before the
service starts (it then runs offline), through the fleet's hub cache when there is one. The
download runs with the runtime's own Python and huggingface_hub (the serving image, or the
venv), so the host needs nothing else."""

from __future__ import annotations

import shlex
from pathlib import Path

from pyinfra import host, logger
from pyinfra.api import deploy
from pyinfra.operations import files, server

from vllm_fleet.deploy.account import own_data_folders
from vllm_fleet.deploy.context import fail, host_settings, host_spec, weights_endpoint
from vllm_fleet.deploy.facts import FreeBytes, HubSnapshot
from vllm_fleet.serving.secretnames import HF_TOKEN_IN_CONTAINER
from vllm_fleet.serving.spec import ServeSpec

# The download script (run on the host) and its name in the HF cache folder, where both
# runtimes see it (the container through the cache mount).
FETCH_SCRIPT = Path(__file__).with_name("fetch_weights.py")
FETCH_NAME = "vllm-fleet-fetch-weights.py"


@deploy("Model weights")
def download_weights() -> None:
    spec = host_spec()
    weights = spec.weights
    owner = spec.unit.confinement.user if spec.unit.confinement else None
    for folder in spec.host_dirs:
        files.directory(
            name=f"Directory {folder}", path=folder, mode="0755", user=owner, group=owner
        )
    snapshot = host.get_fact(
        HubSnapshot, cache=weights.host_cache, repo_id=weights.repo_id, revision=weights.revision
    )
    if snapshot["complete"]:
        host.noop(f"{weights.repo_id}@{weights.revision} complete in {weights.host_cache}")
        own_data_folders(spec.host_dirs)
        return
    # A download was cut off, or a file went missing since: the files already complete are
    # kept and the rest fetched (vllm_fleet.deploy.fetch_weights says how partial files go).
    if snapshot["commit"]:
        logger.warning(
            f"    [{host.name}] {weights.repo_id}@{weights.revision} is incomplete "
            f"({'; '.join(snapshot['problems'][:3])}); resuming the download"
        )
    check_free_space(spec)
    files.put(
        name="Weights download script",
        src=str(FETCH_SCRIPT),
        dest=f"{weights.host_cache}/{FETCH_NAME}",
        mode="0644",
    )
    download = server.shell(
        name=f"Download {weights.repo_id}@{weights.revision}", commands=[download_command(spec)]
    )
    own_data_folders(spec.host_dirs, after=download)


def check_free_space(spec: ServeSpec) -> None:
    """Stop before the download when the data disk cannot hold it (needed vs free, in GB)."""
    weights = spec.weights
    needed = int(weights.size_bytes * (1 + host_settings().weights_free_space_margin))
    free = host.get_fact(FreeBytes, path=weights.host_cache)
    if free is not None and free < needed:
        fail(
            f"{weights.host_cache}: not enough disk for {weights.repo_id}@{weights.revision}: "
            f"needs {needed / 1e9:.1f} GB, {free / 1e9:.1f} GB free"
        )


def download_command(spec: ServeSpec) -> str:
    """The host command that fetches the snapshot with huggingface_hub and records it as
    complete (vllm_fleet.deploy.fetch_weights)."""
    weights = spec.weights
    args = [weights.repo_id, weights.revision]
    token = next((c for c in spec.credentials if c.name == "hf_token"), None)
    # The fleet's hub cache when the inventory has one (vllm_fleet.hubcache), else hf_endpoint.
    env = {"HF_ENDPOINT": weights_endpoint(), "HF_HUB_DISABLE_TELEMETRY": "1"}
    if spec.runtime == "venv":
        env["HF_HOME"] = weights.host_cache
        if token:
            env["HF_TOKEN_PATH"] = token.host_path
        assignments = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        script = f"{weights.host_cache}/{FETCH_NAME}"
        return f"{assignments} " + shlex.join([f"{spec.unit.venv_dir}/bin/python", script, *args])
    hf_home = dict(spec.env)["HF_HOME"]
    env["HF_HOME"] = hf_home
    docker = [
        spec.unit.docker_bin or "docker",
        "run",
        "--rm",
        "--network",
        "host",
        "-v",
        f"{weights.host_cache}:{hf_home}",
    ]
    if token:
        # A download container sees the token file read-only (huggingface_hub reads
        # HF_TOKEN_PATH): the token never enters a command line or the container's environment.
        docker += ["-v", f"{token.host_path}:{HF_TOKEN_IN_CONTAINER}:ro"]
        env["HF_TOKEN_PATH"] = HF_TOKEN_IN_CONTAINER
    for key, value in env.items():
        docker += ["-e", f"{key}={value}"]
    return shlex.join(
        [*docker, "--entrypoint", "python3", spec.image or "", f"{hf_home}/{FETCH_NAME}", *args]
    )
