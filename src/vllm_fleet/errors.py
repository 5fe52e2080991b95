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


# ENDPOINT ERRORS: live OpenAI-compatible servers (smoke checks, the deploy's ready gate, bench)


class EndpointError(FleetError, ConnectionError):
    """An endpoint answered, but not as a working vLLM server should.

    Example: ``http://10.0.0.5:8000/v1/models: 401: Unauthorized (the server requires an API
    key: pass --api-key-env VAR)``
    """

    def __init__(self, url: str, problem: str, status: int | None = None, body: str = "") -> None:
        self.url = url
        self.status = status
        self.body = body[:300]
        self.problem = problem
        super().__init__(f"{url}: {problem}")


class EndpointUnreachableError(EndpointError):
    """Nothing answered at all: connection refused, unknown host, timeout.

    Example: ``http://127.0.0.1:8000/health: cannot connect (connection refused); is vLLM
    running and listening there? (--wait SECONDS waits for a server that is starting)``
    """


class EndpointNotReadyError(EndpointError, TimeoutError):
    """``--wait`` ran out before ``/health`` answered 200; says what it saw last."""

    def __init__(self, url: str, waited: float, last_seen: str) -> None:
        super().__init__(url, f"not ready after waiting {waited:.0f} s (last: {last_seen})")
        self.waited = waited
        self.last_seen = last_seen


class UnknownCheckError(FleetError, ValueError):
    """``--only``/``--skip`` names a smoke check that does not exist."""

    def __init__(self, option: str, name: str, valid: list[str]) -> None:
        self.name = name
        self.valid = list(valid)
        super().__init__(f"{option}: unknown check {name!r}; valid: {', '.join(valid)}")


# TINY MODEL ERRORS: the CI model built in the cpu image


class TinyModelError(FleetError):
    """Building the tiny Kimi-format model failed; carries the end of the trainer's output."""

    def __init__(self, message: str, log_tail: list[str] | None = None) -> None:
        self.log_tail = log_tail or []
        tail = "\n".join(self.log_tail[-20:])
        super().__init__(f"tiny model build failed: {message}" + (f"\n{tail}" if tail else ""))


# BENCHMARK AND ACCURACY ERRORS: invoke bench, bench.compare and eval


class ResultFileError(FleetError, ValueError):
    """A result file (``vllm bench serve --save-result``, lm-eval's results JSON) is missing,
    not JSON, or lacks a field the report needs.

    Example: ``runs/tp8.json: mean_ttft_ms: missing (is this a `vllm bench serve --save-result`
    file?)``
    """

    def __init__(self, path: Path | str, key: str, problem: str) -> None:
        self.path = str(path)
        self.key = key
        self.problem = problem
        super().__init__(f"{self.path}: {key}: {problem}" if key else f"{self.path}: {problem}")


class ToolRunError(FleetError):
    """A measuring tool (``vllm bench serve`` in a container, lm-eval) failed or could not start;
    carries the end of its output, where the tool says why.

    Example: ``vllm bench serve exited 1\\n... Connection refused``
    """

    def __init__(self, tool: str, message: str, log_tail: list[str] | None = None) -> None:
        self.tool = tool
        self.log_tail = log_tail or []
        tail = "\n".join(self.log_tail[-20:])
        super().__init__(f"{tool}: {message}" + (f"\n{tail}" if tail else ""))


class JournalReadError(FleetError):
    """A host's service journal could not be read (SSH refused, no such unit, no journalctl).

    Example: ``gpu-01: journalctl -u vllm-serve: pyinfra exited 1 (Could not connect
    (Authentication failed.))``
    """

    def __init__(self, host: str, problem: str) -> None:
        self.host = host
        self.problem = problem
        super().__init__(f"{host}: {problem}")


# INSTALL ERRORS: an optional part of vllm-fleet that this install leaves out


class MissingExtraError(FleetError, ImportError):
    """A task needs a package the base install leaves out; names the extra that installs it.

    Example: ``lm-eval is not installed; install vllm-fleet's eval extra: pip install
    'vllm-fleet[eval]' (from a checkout: pip install '.[eval]')``
    """

    def __init__(self, extra: str, what: str, alternative: str = "") -> None:
        self.extra = extra
        super().__init__(
            f"{what} is not installed; install vllm-fleet's {extra} extra: pip "
            f"install 'vllm-fleet[{extra}]' (from a checkout: pip install "
            f"'.[{extra}]'){alternative}"
        )


# SECRETS ON THE CONTROLLER


class EmptySecretError(FleetError, ValueError):
    """A secret variable that is set but empty: never read as "no secret"."""

    def __init__(self, name: str, without: str) -> None:
        self.name = name
        super().__init__(
            f"{name} is set but empty on this machine; an empty value is not 'no "
            f"{without}': export the real value, or `unset {name}` to deploy "
            f"without one"
        )


# COMMAND-LINE OPTIONS


class OptionError(FleetError, ValueError):
    """A task option whose value cannot be used: ``--limit abc: expected a whole number ...``."""

    def __init__(self, option: str, value: object, problem: str) -> None:
        self.option = option
        super().__init__(f"{option} {value}: {problem}")
