"""Facts vllm-fleet reads from hosts (pyinfra's shape: a command and a parser, nothing else)."""

from __future__ import annotations

import re
import shlex

from pyinfra.api import FactBase


class DockerImageId(FactBase):
    """The id (``sha256:...``) of a local image on the host, or None (absent, or no Docker)."""

    def command(self, image: str) -> str:
        return (f"docker image inspect --format '{{{{.Id}}}}' {shlex.quote(image)} "
                "2>/dev/null || true")

    def process(self, output: list[str]) -> str | None:
        text = "".join(output).strip()
        return text if text.startswith("sha256:") else None


class HubSnapshot(FactBase):
    """The commit of a model snapshot in a Hugging Face cache on the host, or None.

    ``revision`` may be a commit (40 hex) or a branch/tag the cache recorded in ``refs/``.
    """

    def command(self, cache: str, repo_id: str, revision: str) -> str:
        repo_dir = shlex.quote(f"{cache}/hub/models--{repo_id.replace('/', '--')}")
        rev = shlex.quote(revision)
        return (f"d={repo_dir}; r={rev}; [ -f \"$d/refs/$r\" ] && r=$(cat \"$d/refs/$r\"); "
                f"[ -d \"$d/snapshots/$r\" ] && [ -n \"$(ls -A \"$d/snapshots/$r\")\" ] "
                f"&& echo \"$r\" || true")

    def process(self, output: list[str]) -> str | None:
        text = "".join(output).strip()
        return text if re.fullmatch(r"[0-9a-f]{40}", text) else None


class FreeBytes(FactBase):
    """Free bytes on the filesystem that holds ``path`` (its nearest existing parent)."""

    def command(self, path: str) -> str:
        return (f"p={shlex.quote(path)}; while [ ! -e \"$p\" ]; do p=$(dirname \"$p\"); done; "
                "df -P -B1 \"$p\" | awk 'NR==2 {print $4}'")

    def process(self, output: list[str]) -> int | None:
        text = "".join(output).strip()
        return int(text) if text.isdigit() else None


class UnitState(FactBase):
    """``systemctl show`` properties of a unit: ActiveState, SubState, NRestarts, Result."""

    @staticmethod
    def default() -> dict[str, str]:
        return {}

    def command(self, unit: str) -> str:
        return (f"systemctl show --property=ActiveState,SubState,NRestarts,Result "
                f"{shlex.quote(unit)} 2>/dev/null || true")

    def process(self, output: list[str]) -> dict[str, str]:
        return dict(line.split("=", 1) for line in output if "=" in line)


class CommandStatus(FactBase):
    """Exit status and first output lines of a read-only check (``nvidia-smi -L``, ...)."""

    @staticmethod
    def default() -> dict:
        return {"ok": False, "output": ""}

    def command(self, check: str) -> str:
        return f'out=$({check} 2>&1); echo "rc=$?"; printf "%s\\n" "$out" | head -n 3'

    def process(self, output: list[str]) -> dict:
        status = output[0].removeprefix("rc=") if output else "?"
        return {"ok": status == "0", "output": "\n".join(output[1:]).strip()}


class MountPoint(FactBase):
    """The mount point of the filesystem that holds ``path`` (its nearest existing parent)."""

    def command(self, path: str) -> str:
        return (f"p={shlex.quote(path)}; while [ ! -e \"$p\" ]; do p=$(dirname \"$p\"); done; "
                "df -P \"$p\" | awk 'NR==2 {print $6}'")

    def process(self, output: list[str]) -> str | None:
        text = "".join(output).strip()
        return text if text.startswith("/") else None


class FileText(FactBase):
    """A small text file's contents on the host, or None when it is absent."""

    def command(self, path: str) -> str:
        return f"cat {shlex.quote(path)} 2>/dev/null || true"

    def process(self, output: list[str]) -> str | None:
        return "\n".join(output) if output else None
