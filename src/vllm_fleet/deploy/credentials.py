"""Secrets on the host: the HF token and the API key, from the controller to files only root and
the server can read.

The HF token (only the deploy's download uses it) is root:root 0600. The API key must be
readable by the user the server runs as: in the venv runtime the dedicated service account
(root:<account> 0640, in a root:<account> 0750 folder); in a container the file is bind-mounted
on its own, so root:root 0640 lets both a root image and a `--non-root` image (uid 2000, gid 0,
images/matrix.yaml) read it, and no other account on the host.

Values are read on the controller (an environment variable or a file named in host data) and
travel only as file contents over SSH: never in a command line, an operation name or pyinfra's
output at any verbosity, and never in `--diff`: pyinfra's ``files.put`` prints the uploaded text
under --diff (and fetches the remote file to diff against), so secrets go through
``secret_file`` below, which compares checksums and uploads without showing anything.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Generator
from typing import Any

from pyinfra import host
from pyinfra.api import FileUploadCommand, deploy, operation
from pyinfra.facts.files import File, Sha256File
from pyinfra.operations import files
from pyinfra.operations.util import files as file_utils

from vllm_fleet.deploy.context import fail, host_settings, host_spec, restart_when_changed
from vllm_fleet.errors import FleetError
from vllm_fleet.serving.secretnames import read_source
from vllm_fleet.serving.spec import Credential

# pyinfra's spelling of file modes (octal digits as an integer), as its facts report them.
ROOT_ONLY = 600  # the HF token: only the deploy's download (as root) reads it
SERVER_READABLE = 640  # the API key: root writes it, the server's group reads it


@deploy("Credentials")
def install_credentials() -> None:
    spec = host_spec()
    if not spec.credentials:
        return
    group = spec.unit.confinement.user if spec.unit.confinement else "root"
    files.directory(
        name="Secrets directory",
        path=host_settings().vllm_secrets_dir,
        user="root",
        group=group,
        mode="0750" if group != "root" else "0700",
    )
    for credential in spec.credentials:
        server_reads = bool(credential.container_path)
        op = secret_file(
            name=f"Credential {credential.name} -> {credential.host_path}",
            dest=credential.host_path,
            content=read_secret(credential) + "\n",
            group=group if server_reads else "root",
            mode=SERVER_READABLE if server_reads else ROOT_ONLY,
        )
        if credential.container_path:  # the running server reads it: restart on rotation
            restart_when_changed(op)


@operation()
def secret_file(dest: str, content: str, group: str, mode: int) -> Generator[Any, None, None]:
    """``dest`` holds ``content``, owned by root:``group`` with ``mode``; like files.put, minus
    the diff (no content is printed or fetched: the remote file is compared by its SHA-256)."""
    remote = host.get_fact(File, path=dest)
    wanted = hashlib.sha256(content.encode()).hexdigest()
    if not remote or host.get_fact(Sha256File, path=dest) != wanted:
        yield FileUploadCommand(
            io.StringIO(content), dest, remote_temp_filename=host.get_temp_filename(dest)
        )
        yield file_utils.chown(dest, "root", group)
        yield file_utils.chmod(dest, mode)
        return
    if remote["user"] != "root" or remote["group"] != group:
        yield file_utils.chown(dest, "root", group)
    if remote["mode"] != mode:
        yield file_utils.chmod(dest, mode)


def read_secret(credential: Credential) -> str:
    """The secret's value on the controller, from ``env:NAME`` or ``file:PATH``."""
    try:
        return read_source(credential.source)
    except FleetError as err:
        fail(f"{credential.name}: {err}")
