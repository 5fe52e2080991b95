"""Every exception vllm-fleet raises on purpose, grouped by where the problem lies.

Each carries the data a caller needs (file, field, URL) and a message that says what is wrong,
the bad value, and what would be valid. Tasks turn them into one line and a non-zero exit.
"""

from __future__ import annotations

from pathlib import Path


class FleetError(Exception):
    """Base of every error vllm-fleet reports to an operator."""


# CONFIGURATION ERRORS: the repository's data files (images/, models/, inventory/)


class ConfigError(FleetError, ValueError):
    """A data file is missing, malformed, or holds a value that is not allowed.

    Example: ``images/matrix.yaml: targets.cpu.vllm_version: missing (required)``
    """

    def __init__(self, path: Path | str, key: str, problem: str) -> None:
        self.path = str(path)
        self.key = key
        self.problem = problem
        super().__init__(f"{self.path}: {key}: {problem}" if key else f"{self.path}: {problem}")


class UnknownNameError(ConfigError):
    """A name (target, model, profile, vendor) that the data does not define."""

    def __init__(self, path: Path | str, key: str, kind: str, name: str, valid: list[str]) -> None:
        self.name = name
        self.valid = sorted(valid)
        super().__init__(path, key, f"unknown {kind} {name!r}; valid: {', '.join(self.valid)}")


# BUILD ERRORS: the Docker engine and image builds


class DockerUnavailableError(FleetError, ConnectionError):
    """The Docker engine cannot be reached."""

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"cannot reach the Docker engine ({reason}); start it with "
            "`scripts/host-prereqs.sh` (installs docker.io and starts dockerd) "
            "or `systemctl start docker`, or point DOCKER_HOST at a running engine"
        )


class BuildInputError(FleetError, ValueError):
    """A build option names a file or folder that is not there or not usable."""

    def __init__(self, option: str, value: str, problem: str) -> None:
        self.option = option
        self.value = value
        super().__init__(f"{option} {value}: {problem}")


class BuildError(FleetError):
    """`docker build` failed; carries the step output that matters."""

    def __init__(self, target: str, message: str, log_tail: list[str] | None = None) -> None:
        self.target = target
        self.log_tail = log_tail or []
        tail = "\n".join(self.log_tail[-20:])
        super().__init__(f"build of {target!r} failed: {message}" + (f"\n{tail}" if tail else ""))


class RenderError(FleetError):
    """A template could not be rendered (undefined variable, syntax error)."""

    def __init__(self, template: str, line: int | None, message: str) -> None:
        self.template = template
        self.line = line
        where = f"{template}:{line}" if line else template
        super().__init__(f"{where}: {message}")
