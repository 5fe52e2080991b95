"""Secrets on the host: the HF token and the API key, from the controller to files only root and
the server can read.

The HF token (only the deploy's download uses it) is root:root 0600. The API key must be
readable by the user the server runs as: in the venv runtime the dedicated service account
(root:<account> 0640, in a root:<account> 0750 folder); in a container the file is bind-mounted
on its own, so root:root 0640 lets both a root image and a `--non-root` image (uid 2000, gid 0,
images/matrix.yaml) read it, and no other account on the host.

Values are read on the controller (an environment variable or a file named in host data) and
travel only as file contents over SSH: never in a command line, an operation name or pyinfra's
output at any verbosity.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

from pyinfra.api import deploy
from pyinfra.operations import files

from vllm_fleet.deploy.context import fail, host_settings, host_spec, restart_when_changed
from vllm_fleet.serving.spec import Credential


@deploy("Credentials")
def install_credentials() -> None:
    spec = host_spec()
    if not spec.credentials:
        return
    group = spec.unit.confinement.user if spec.unit.confinement else "root"
    files.directory(name="Secrets directory", path=host_settings().vllm_secrets_dir,
                    user="root", group=group, mode="0750" if group != "root" else "0700")
    for credential in spec.credentials:
        server_reads = bool(credential.container_path)
        op = files.put(
            name=f"Credential {credential.name} -> {credential.host_path}",
            src=io.StringIO(read_secret(credential) + "\n"),
            dest=credential.host_path,
            user="root",
            group=group if server_reads else "root",
            mode="0640" if server_reads else "0600",
        )
        if credential.container_path:  # the running server reads it: restart on rotation
            restart_when_changed(op)


def read_secret(credential: Credential) -> str:
    """The secret's value on the controller, from ``env:NAME`` or ``file:PATH``."""
    kind, _, where = credential.source.partition(":")
    if kind == "env":
        value = os.environ.get(where, "")
    else:
        path = Path(where).expanduser()
        if not path.is_file():
            fail(f"{credential.name}: {path} (from host data) does not exist on the controller")
        value = path.read_text()
    value = value.strip()
    if not value:
        fail(f"{credential.name}: {credential.source} is empty")
    return value
