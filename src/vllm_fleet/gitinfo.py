"""What revision of vllm-fleet is being built: for image tags and OCI labels."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

from vllm_fleet.paths import REPO_ROOT


@dataclass(frozen=True)
class Revision:
    ref: str  # `git describe --always --dirty`, e.g. 3f2a9c1d0b7e or 3f2a9c1d0b7e-dirty
    commit_time: str  # RFC 3339; a fixed epoch when there is no commit


def current_revision() -> Revision:
    ref = _git("describe", "--always", "--dirty", "--abbrev=12") or "nogit"
    time = _git("log", "-1", "--format=%cI") or "1970-01-01T00:00:00Z"
    return Revision(ref=ref, commit_time=time)


def _git(*args: str) -> str:
    try:
        result = subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True)
    except FileNotFoundError:
        return ""
    return result.stdout.strip() if result.returncode == 0 else ""
