"""Build inputs this machine's own pip already uses: its CA bundle and its local wheel folder.

A site behind a TLS-re-signing proxy has pip trust an extra CA bundle; an offline site points pip
at a folder of wheels. The same two things must reach pip inside `docker build`, so the demo and
the tests read them from pip's configuration instead of asking the operator to repeat them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from vllm_fleet.images.build import BuildOptions


def pip_config() -> dict[str, str]:
    """pip's effective settings as `key -> value` (``global.cert``, ``global.find-links`` ...)."""
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True
    )
    settings: dict[str, str] = {}
    for line in proc.stdout.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            settings[key.split(".", 1)[-1] if key.startswith(":env:") else key] = value.strip("'")
    return settings


def site_build_options(torch_wheel_glob: str = "torch-*+cpu-*.whl") -> BuildOptions:
    """BuildOptions carrying this machine's CA bundle and wheelhouse, where it has them."""
    config = pip_config()
    links = config.get("global.find-links") or config.get("find-links")
    wheelhouse = Path(links) if links and any(Path(links).glob(torch_wheel_glob)) else None
    return BuildOptions(ca_bundle=pip_ca_bundle(config), wheelhouse=wheelhouse)


def pip_ca_bundle(config: dict[str, str] | None = None) -> Path | None:
    """The CA bundle this machine's pip trusts beyond its default, if any."""
    config = pip_config() if config is None else config
    cert = os.environ.get("PIP_CERT") or config.get("global.cert") or config.get("cert")
    return Path(cert) if cert and Path(cert).is_file() else None
