"""The secrets vllm-fleet handles, named once: the controller variables that may hold them, where
a container sees them, and the one rule for whether one is given.

The rule, used by the plan, the deploy, its ready gate, smoke and the demo alike: a secret
variable is either set to a non-empty value or absent. Set but empty is an error naming the
variable, never "no secret" (an empty VLLM_API_KEY would otherwise deploy an open endpoint).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from vllm_fleet.errors import EmptySecretError, FleetError

HF_TOKEN_ENV = "HF_TOKEN"  # huggingface_hub's token variable (weights download only)
API_KEY_ENV = "VLLM_API_KEY"  # vllm serve reads its API key from this variable
# The controller variables that may hold secrets.
SECRET_ENV_NAMES = (HF_TOKEN_ENV, API_KEY_ENV)
_WHAT = {HF_TOKEN_ENV: "HF token", API_KEY_ENV: "API key"}

# Where a container sees a secret file (mounted read-only): never a command line or an env value.
HF_TOKEN_IN_CONTAINER = "/run/secrets/hf-token"
API_KEY_IN_CONTAINER = "/run/secrets/vllm-api-key"


def secret_from_env(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """``name``'s value (stripped), None when it is not set; EmptySecretError when it is set
    but empty or only whitespace."""
    env = os.environ if environ is None else environ
    if name not in env:
        return None
    value = env[name].strip()
    if not value:
        raise EmptySecretError(name, _WHAT.get(name, "secret"))
    return value


def secrets_present(
    names: Iterable[str] = SECRET_ENV_NAMES, environ: Mapping[str, str] | None = None
) -> list[str]:
    """The names among ``names`` that hold a secret (by the rule above); values are not kept."""
    return [name for name in names if secret_from_env(name, environ) is not None]


def required_secret(name: str, option: str) -> str:
    """The value of the variable an option (``--api-key-env NAME``) names: set and non-empty."""
    value = secret_from_env(name)
    if value is None:
        raise FleetError(
            f"{option} {name}: that environment variable is not set (export it, or "
            f"drop {option} for a server started without a key)"
        )
    return value


def read_source(source: str) -> str:
    """A credential's value on the controller, from its reference ``env:NAME`` or ``file:PATH``
    (a credential reference of a ServeSpec). Only the deploy and the checks that must
    authenticate call this; the value is never logged."""
    kind, _, where = source.partition(":")
    if kind == "env":
        value = secret_from_env(where)
        if value is None:
            raise FleetError(f"{source}: {where} is not set on this machine")
        return value
    path = Path(where).expanduser()
    if not path.is_file():
        raise FleetError(f"{source}: {path} (from host data) does not exist on the controller")
    value = path.read_text().strip()
    if not value:
        raise FleetError(f"{source}: {path} is empty")
    return value
