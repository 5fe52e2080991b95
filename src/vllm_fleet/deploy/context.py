"""The current pyinfra host's serve spec, resolved once per host before any operation runs.

Resolution happens while pyinfra prepares operations, so bad data stops the deploy with one line
(file, field, what is valid) before any host is changed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pyinfra import host
from pyinfra.api.exceptions import PyinfraError

from vllm_fleet.errors import FleetError
from vllm_fleet.paths import MANIFEST_DIR
from vllm_fleet.serving.inventory import HostData
from vllm_fleet.serving.plan import SECRET_ENV_NAMES, Planner
from vllm_fleet.serving.spec import ServeSpec

_SPECS: dict[str, ServeSpec] = {}


class DeployError(PyinfraError):
    """A problem found before or during a deploy; pyinfra prints it as one line."""


def host_spec() -> ServeSpec:
    """The ServeSpec of the host pyinfra is preparing (cached: every deploy module shares it)."""
    if host.name not in _SPECS:
        data = HostData.from_mapping(host.name, host.data.dict(), source="host data")
        planner = Planner(env_names=[n for n in SECRET_ENV_NAMES if os.environ.get(n)],
                          manifest_dir=Path(host.data.get("image_manifest_dir", MANIFEST_DIR)))
        try:
            _SPECS[host.name] = planner.spec(data)
        except FleetError as err:
            raise DeployError(f"{host.name}: {err}") from None
    return _SPECS[host.name]


def host_value(key: str, default: Any = None) -> Any:
    """A host data value (inventory, group_data, --data) that is not part of the serve spec."""
    return host.data.get(key, default)


def fail(message: str) -> None:
    raise DeployError(f"{host.name}: {message}")


# Operations whose change means the running server must restart to see it (the unit itself, a
# new image under the same tag, a rotated API key), per host, in the order they were added.
_RESTART_TRIGGERS: dict[str, list] = {}


def restart_when_changed(op) -> None:
    _RESTART_TRIGGERS.setdefault(host.name, []).append(op)


def restart_triggers() -> list:
    return list(_RESTART_TRIGGERS.get(host.name, []))
