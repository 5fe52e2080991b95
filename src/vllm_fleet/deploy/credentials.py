"""Secrets on the host: the HF token and the API key, from the controller to root-only 0600 files.

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

SECRET_MODE = 600  # pyinfra's spelling of 0600 (octal digits as an integer), as its facts report


@deploy("Credentials")
def install_credentials() -> None:
    spec = host_spec()
    if not spec.credentials:
        return
    files.directory(name="Secrets directory (root only)", path=host_settings().vllm_secrets_dir,
                    user="root", group="root", mode="0700")
    for credential in spec.credentials:
        op = secret_file(name=f"Credential {credential.name} -> {credential.host_path}",
                         dest=credential.host_path, content=read_secret(credential) + "\n")
        if credential.container_path:  # the running server reads it: restart on rotation
            restart_when_changed(op)


@operation()
def secret_file(dest: str, content: str) -> Generator[Any, None, None]:
    """``dest`` holds ``content``, root:root 0600; like files.put, minus the diff (no content is
    printed or fetched: the remote file is compared by its SHA-256 only)."""
    remote = host.get_fact(File, path=dest)
    wanted = hashlib.sha256(content.encode()).hexdigest()
    if not remote or host.get_fact(Sha256File, path=dest) != wanted:
        yield FileUploadCommand(io.StringIO(content), dest,
                                remote_temp_filename=host.get_temp_filename(dest))
        yield file_utils.chown(dest, "root", "root")
        yield file_utils.chmod(dest, SECRET_MODE)
        return
    if remote["user"] != "root" or remote["group"] != "root":
        yield file_utils.chown(dest, "root", "root")
    if remote["mode"] != SECRET_MODE:
        yield file_utils.chmod(dest, SECRET_MODE)


def read_secret(credential: Credential) -> str:
    """The secret's value on the controller, from ``env:NAME`` or ``file:PATH``."""
    try:
        return read_source(credential.source)
    except FleetError as err:
        fail(f"{credential.name}: {err}")
