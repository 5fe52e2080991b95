"""The checks host-data keys declare (``key(..., check=...)`` in vllm_fleet.hostdata).

Each takes a value of the right type and returns None, or one problem: what is wrong and what
would be valid. Strings that reach a unit file, a shell command or a path are checked here, where
the key is declared, so nothing downstream has to quote or guess.
"""

from __future__ import annotations

import ipaddress
import re
import shlex
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

# A per-key check: the value in, a problem (what is wrong and what would be valid) or None out.
Check = Callable[[Any], str | None]


def one_of(*valid: str) -> Check:
    def check(value: Any) -> str | None:
        return None if value in valid else f"{value!r} is not valid; valid: {', '.join(valid)}"

    return check


def at_least(minimum: float) -> Check:
    def check(value: Any) -> str | None:
        return None if value >= minimum else f"{value} is below the minimum {minimum}"

    return check


def tcp_port(value: int) -> str | None:
    return None if 1 <= value <= 65535 else f"{value} is not a TCP port (1-65535)"


# Ports below this are the well-known system ports (RFC 6335 section 6: 0-1023, e.g. 22 ssh):
# vLLM there would clash with a system service; allow_system_port opts in.
FIRST_USER_PORT = 1024

# systemd.unit(5): a unit name is ASCII letters, digits, ":", "-", "_", "." and "\\", at most
# 255 characters with its suffix; the name is also the container's (Docker: [a-zA-Z0-9]
# [a-zA-Z0-9_.-]*) and goes into shell commands, so the common, shell-safe part of both.
_UNIT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_UNIT_MAX = 255 - len(".service")
# A host path that goes into unit files and shell commands unquoted by systemd's rules: absolute,
# no "..", and only characters no shell or systemd treats specially.
_SAFE_PATH = re.compile(r"^/[A-Za-z0-9._+/-]*$")
# Docker's image reference grammar (github.com/distribution/reference, reference.go):
# [domain[:port]/]path[:tag][@digest], path components lowercase.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN = (
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*"
    r"[A-Za-z0-9])?)*(?::[0-9]+)?|\[[0-9A-Fa-f:]+\](?::[0-9]+)?)"
)
_IMAGE_REF = re.compile(
    rf"^(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*"
    r"(?::[\w][\w.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z]"
    r"[A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$"
)
# A name that becomes part of a file name (models/<model>.yaml) or a package: no "/" or "..".
_IMAGE_NAME_MAX = 255 + len(":") + 128  # distribution/reference: name 255, tag 128
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
_NAME_MAX = 128
_URL = re.compile(r"^https?://[^\s'\"\\`$;|&<>]+$")
_USER = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")


def unit_name(value: str) -> str | None:
    if len(value) <= _UNIT_MAX and _UNIT_NAME.match(value):
        return None
    return (
        f"{value!r} is not a valid unit name: systemd allows letters, digits and : - _ . "
        f"(systemd.unit(5)), and the same name is the container's and goes into shell "
        f"commands, so use [A-Za-z0-9][A-Za-z0-9_.-]*, at most {_UNIT_MAX} characters, "
        "e.g. vllm-serve"
    )


def host_path(value: str) -> str | None:
    if _SAFE_PATH.match(value) and ".." not in value.split("/") and value != "/":
        return None
    return (
        f"{value!r} is not an absolute, shell-safe path: start with / and use only "
        "letters, digits and . _ + - / (no .., no spaces: it goes into unit files and shell "
        "commands), e.g. /var/lib/vllm-fleet"
    )


def image_reference(value: str) -> str | None:
    first, slash, _ = value.partition("/")
    is_domain = slash and ("." in first or ":" in first or first == "localhost")
    short_enough = len(value.split("@")[0]) <= _IMAGE_NAME_MAX
    if _IMAGE_REF.match(value) and (is_domain or first == first.lower()) and short_enough:
        return None
    return (
        f"{value!r} is not an image reference: expected [registry[:port]/]name[:tag]"
        "[@sha256:digest] with a lowercase name, e.g. registry.example:5000/vllm-fleet/"
        "cuda:0.32.0 or vllm/vllm-openai@sha256:<64 hex digits>"
    )


def plain_name(value: str) -> str | None:
    if _NAME.match(value) and len(value) <= _NAME_MAX:
        return None
    return (
        f"{value!r} is not a plain name: use letters, digits and . _ + - (no / or spaces; "
        f"it becomes part of a file or package name), at most {_NAME_MAX} characters"
    )


def url(value: str) -> str | None:
    if _URL.match(value):
        return None
    return (
        f"{value!r} is not an http(s) URL without spaces, quotes or shell characters, e.g. "
        "https://huggingface.co"
    )


def url_or_empty(value: str) -> str | None:
    return None if value == "" else url(value)


def each(check: Check) -> Check:
    """Apply ``check`` to every item of a list (the first problem, with its position)."""

    def check_all(values: Any) -> str | None:
        for index, value in enumerate(values):
            problem = check(value)
            if problem:
                return f"item {index}: {problem}"
        return None

    return check_all


def per_flavour(check: Check) -> Check:
    """Apply ``check`` to the list of every key of a mapping (flavour -> packages)."""

    def check_all(values: Any) -> str | None:
        for flavour, items in values.items():
            if not isinstance(items, list):
                return f"{flavour}: expected a list, got {type(items).__name__} {items!r}"
            problem = check(items)
            if problem:
                return f"{flavour}: {problem}"
        return None

    return check_all


def package_name(value: str) -> str | None:
    # Debian policy 5.6.1: lowercase letters, digits, + - . ; {branch} is filled in later.
    if re.match(r"^[a-z0-9{][a-z0-9.+{}-]*$", value):
        return None
    return (
        f"{value!r} is not a package name (Debian: lowercase letters, digits and + - ., "
        "plus {branch})"
    )


def secret_file(value: str) -> str | None:
    """A credential file on the controller: there, not empty, and readable by its owner only
    (mode 0600 or stricter). Only its metadata is looked at, never its contents."""
    path = Path(value).expanduser()
    try:
        info = path.stat()
    except OSError as err:
        return f"{value}: {err.strerror.lower()} on this machine (the controller)"
    except ValueError:
        return f"{value!r} is not a path (it holds a NUL character)"
    if not stat.S_ISREG(info.st_mode):
        return f"{value}: not a regular file"
    if info.st_size == 0:
        return f"{value}: the file is empty; put the secret in it"
    if info.st_mode & 0o077:
        return (
            f"{value}: mode {stat.S_IMODE(info.st_mode):04o} lets other users read the "
            f"secret; `chmod 600 {shlex.quote(value)}` (0600 or stricter)"
        )
    return None


def controller_folder(value: str) -> str | None:
    """A folder on the controller that vllm-fleet reads (never a host path or a shell word)."""
    if _on_controller(value, Path.is_dir):
        return None
    return f"{value!r} is not a folder on this machine (the controller)"


def controller_file(value: str) -> str | None:
    if _on_controller(value, Path.is_file):
        return None
    return f"{value!r} is not a file on this machine (the controller)"


def _on_controller(value: str, test: Callable[[Path], bool]) -> bool:
    if not value.strip():
        return False
    try:
        return test(Path(value).expanduser())
    except (OSError, ValueError):  # a name too long, a NUL character
        return False


def log_size(value: str) -> str | None:
    # Docker's json-file max-size: a positive integer and a unit, k, m or g
    # (https://docs.docker.com/engine/logging/drivers/json-file/#options).
    if re.match(r"^[1-9][0-9]{0,8}[kmg]?$", value):
        return None
    return f"{value!r} is not a log size: a whole number with k, m or g, e.g. 100m"


def user_name(value: str) -> str | None:
    if _USER.match(value):
        return None
    return f"{value!r} is not a user name (useradd: [a-z_][a-z0-9_-]*, at most 32 characters)"


def pinned_by_digest(value: str) -> str | None:
    if re.fullmatch(r"[^\s@]+@sha256:[0-9a-f]{64}", value):
        return None
    return f"{value!r} is not pinned by digest; valid: NAME[:TAG]@sha256:<64 hex digits>"


def ip_address(value: str) -> str | None:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return f"{value!r} is not an IP address to listen on (e.g. 0.0.0.0, 127.0.0.1, ::)"
    return None


def host_port(value: str) -> str | None:
    address, _, port = value.rpartition(":")
    if address and port.isdigit() and tcp_port(int(port)) is None:
        return None
    return f"{value!r} is not HOST:PORT (e.g. 127.0.0.1:9090, 0.0.0.0:9090)"


def prometheus_duration(value: str) -> str | None:
    # Prometheus's duration syntax:
    # https://prometheus.io/docs/prometheus/latest/configuration/configuration/#duration
    if re.fullmatch(r"(\d+(ms|s|m|h|d|w|y))+", value):
        return None
    return f"{value!r} is not a Prometheus duration (e.g. 30s, 15d, 1w)"
