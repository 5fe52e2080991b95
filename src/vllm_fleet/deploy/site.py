"""What a site's hosts need to reach PyPI the way its controller does (host data `site_*`), and
the fleet's small Python services (router, hub cache) installed that way: one pinned package in a
virtualenv of its own, run by a system account of its own."""

from __future__ import annotations

import shlex
from pathlib import Path

from pyinfra.api.operation import OperationMeta
from pyinfra.operations import files, pip, server

from vllm_fleet.deploy.context import host_settings


def put_site_ca_bundle(dest: str):
    """Copy the controller's `site_ca_bundle` (a TLS-re-signing proxy's CA) to ``dest`` on the
    host, for pip there to trust; None when the site has none."""
    bundle = host_settings().site_ca_bundle
    if not bundle:
        return None
    return files.put(
        name="Site CA bundle", src=str(Path(bundle).expanduser()), dest=dest, mode="0644"
    )


def install_pinned_package(
    package: str, version: str, venv_dir: str, files_dir: str
) -> OperationMeta:
    """``package==version`` in a virtualenv at ``venv_dir``, from the site's index through its CA
    (copied into ``files_dir``, which must exist) when it has them; the pip operation, whose
    change means the service must restart."""
    s = host_settings()
    pip.venv(name=f"Virtualenv {venv_dir}", path=venv_dir, python="python3")
    ca_bundle = f"{files_dir}/ca-bundle.crt"
    pip_args = [
        *(["--index-url", s.site_pip_index_url] if s.site_pip_index_url else []),
        *(["--cert", ca_bundle] if put_site_ca_bundle(ca_bundle) else []),
    ]
    return pip.packages(
        name=f"{package}=={version}",
        packages=[f"{package}=={version}"],
        virtualenv=venv_dir,
        extra_install_args=shlex.join(pip_args) or None,
    )


def install_system_account(user: str, home: str | None = None) -> None:
    """A system group and account ``user`` that cannot log in. ``home``: made by the caller (no
    folder is made); unset, /home/<user>, made by pyinfra."""
    server.group(name=f"System group {user}", group=user, system=True)
    server.user(
        name=f"System account {user}",
        user=user,
        group=user,
        system=True,
        home=home,
        shell="/usr/sbin/nologin",
        create_home=False,
        ensure_home=home is None,
    )
