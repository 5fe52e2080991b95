"""Model weights: downloaded once per host, pinned revision, into the data disk, before the
service starts (it then runs offline). The download runs with the runtime's own Python and
huggingface_hub (the serving image, or the venv), so the host needs nothing else."""

from __future__ import annotations

import shlex

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.operations import files, server

from vllm_fleet.deploy.context import fail, host_settings, host_spec
from vllm_fleet.deploy.facts import FreeBytes, HubSnapshot
from vllm_fleet.serving.secretnames import HF_TOKEN_IN_CONTAINER
from vllm_fleet.serving.spec import ServeSpec


@deploy("Model weights")
def download_weights() -> None:
    spec = host_spec()
    weights = spec.weights
    for folder in spec.host_dirs:
        files.directory(name=f"Directory {folder}", path=folder, mode="0755")
    present = host.get_fact(HubSnapshot, cache=weights.host_cache, repo_id=weights.repo_id,
                            revision=weights.revision)
    if present:
        host.noop(f"{weights.repo_id}@{weights.revision} already in {weights.host_cache}")
        return
    check_free_space(spec)
    server.shell(name=f"Download {weights.repo_id}@{weights.revision}",
                 commands=[download_command(spec)])


def check_free_space(spec: ServeSpec) -> None:
    """Stop before the download when the data disk cannot hold it (needed vs free, in GB)."""
    weights = spec.weights
    needed = int(weights.size_bytes * (1 + host_settings().weights_free_space_margin))
    free = host.get_fact(FreeBytes, path=weights.host_cache)
    if free is not None and free < needed:
        fail(f"{weights.host_cache}: not enough disk for {weights.repo_id}@{weights.revision}: "
             f"needs {needed / 1e9:.1f} GB, {free / 1e9:.1f} GB free")


def download_command(spec: ServeSpec) -> str:
    """The host command that fetches the snapshot with huggingface_hub."""
    weights = spec.weights
    script = ("import huggingface_hub as h; "
              f"print(h.snapshot_download({weights.repo_id!r}, revision={weights.revision!r}))")
    token = next((c for c in spec.credentials if c.name == "hf_token"), None)
    env = {"HF_ENDPOINT": host_settings().hf_endpoint, "HF_HUB_DISABLE_TELEMETRY": "1"}
    if spec.runtime == "venv":
        env["HF_HOME"] = weights.host_cache
        if token:
            env["HF_TOKEN_PATH"] = token.host_path
        assignments = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        python = shlex.quote(f"{spec.unit.venv_dir}/bin/python")
        return f"{assignments} {python} -c {shlex.quote(script)}"
    hf_home = dict(spec.env)["HF_HOME"]
    env["HF_HOME"] = hf_home
    args = [spec.unit.docker_bin, "run", "--rm", "--network", "host",
            "-v", f"{weights.host_cache}:{hf_home}"]
    if token:
        # A download container sees the token file read-only (huggingface_hub reads
        # HF_TOKEN_PATH): the token never enters a command line or the container's environment.
        args += ["-v", f"{token.host_path}:{HF_TOKEN_IN_CONTAINER}:ro"]
        env["HF_TOKEN_PATH"] = HF_TOKEN_IN_CONTAINER
    for key, value in env.items():
        args += ["-e", f"{key}={value}"]
    args += ["--entrypoint", "python3", spec.image, "-c", script]
    return shlex.join(args)
