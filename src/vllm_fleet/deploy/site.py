"""What a site's hosts need to reach PyPI the way its controller does (host data `site_*`)."""

from __future__ import annotations

from pathlib import Path

from pyinfra.operations import files

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
