"""One way to reach the Docker engine, with one clear error when it is not there."""

from __future__ import annotations

import docker
import docker.errors

from vllm_fleet.errors import DockerUnavailableError


def engine() -> docker.DockerClient:
    """Return a client for the engine named by DOCKER_HOST (default: the local socket).

    Raises DockerUnavailableError, saying how to start one, when no engine answers.
    """
    try:
        client = docker.from_env(timeout=600)
        client.ping()
    except docker.errors.DockerException as err:
        raise DockerUnavailableError(_short_reason(err)) from err
    return client


def image_exists(client: docker.DockerClient, ref: str) -> bool:
    try:
        client.images.get(ref)
    except docker.errors.ImageNotFound:
        return False
    return True


def _short_reason(err: Exception) -> str:
    text = str(err)
    if "No such file or directory" in text or "FileNotFoundError" in text:
        return "no engine socket"
    if "Connection refused" in text:
        return "connection refused"
    return text.splitlines()[0][:160] if text else type(err).__name__
