"""Facts vllm-fleet reads from hosts (pyinfra's shape: a command and a parser, nothing else)."""

from __future__ import annotations

import re
import shlex

from pyinfra.api import FactBase

# Beside ``hub/`` in the cache: <repo folder>/<commit> lists "<size> <path>" of every file of a
# revision, written by the deploy's download once it checked them (vllm_fleet.deploy.fetch).
COMPLETE_DIR = "vllm-fleet-complete"


def repo_folder(repo_id: str) -> str:
    """huggingface_hub's cache folder name of a model repository."""
    return f"models--{repo_id.replace('/', '--')}"


class DockerImageId(FactBase):
    """The id (``sha256:...``) of a local image on the host, or None (absent, or no Docker)."""

    def command(self, image: str) -> str:
        return (
            f"docker image inspect --format '{{{{.Id}}}}' {shlex.quote(image)} 2>/dev/null || true"
        )

    def process(self, output: list[str]) -> str | None:
        text = "".join(output).strip()
        return text if text.startswith("sha256:") else None


class HubSnapshot(FactBase):
    """A model snapshot in a Hugging Face cache on the host, and whether it is complete.

    ``revision`` may be a commit (40 hex) or a branch/tag the cache recorded in ``refs/``.
    Complete means: the deploy's download recorded every file of the revision with its size
    (``COMPLETE_DIR``, written only after checking them against the Hub's listing), and each file
    is still there at that size. A non-empty ``snapshots/<sha>`` folder proves nothing: an
    interrupted download leaves one.

    Fact: ``{"commit": sha or None, "complete": bool, "problems": [...]}``.
    """

    @staticmethod
    def default() -> dict:
        return {"commit": None, "complete": False, "problems": ["no answer from the host"]}

    def command(self, cache: str, repo_id: str, revision: str) -> str:
        folder = repo_folder(repo_id)
        repo_dir = shlex.quote(f"{cache}/hub/{folder}")
        record_dir = shlex.quote(f"{cache}/{COMPLETE_DIR}/{folder}")
        rev = shlex.quote(revision)
        return (
            f'd={repo_dir}; r={rev}; [ -f "$d/refs/$r" ] && r=$(cat "$d/refs/$r"); '
            f'echo "commit $r"; m={record_dir}/"$r"; '
            'if [ ! -f "$m" ]; then echo unrecorded; else '
            "while IFS=' ' read -r size name; do f=\"$d/snapshots/$r/$name\"; "
            'if [ ! -f "$f" ]; then echo "missing $name"; '
            'elif [ "$(stat -L -c %s "$f")" != "$size" ]; then '
            'echo "size $name $(stat -L -c %s "$f") $size"; fi; '
            'done < "$m"; echo checked; fi'
        )

    def process(self, output: list[str]) -> dict:
        commit = None
        problems: list[str] = []
        checked = False
        for line in output:
            word, _, rest = line.strip().partition(" ")
            if word == "commit":
                commit = rest if re.fullmatch(r"[0-9a-f]{40}", rest) else None
            elif word == "unrecorded":
                problems.append("no completed download recorded")
            elif word == "missing":
                problems.append(f"{rest} is missing")
            elif word == "size":
                name, actual, expected = rest.rsplit(" ", 2)
                problems.append(f"{name} has {actual} of {expected} bytes")
            elif word == "checked":
                checked = True
        if commit is None:
            problems = ["no snapshot of that revision"]
        return {"commit": commit, "complete": checked and not problems, "problems": problems}


class FreeBytes(FactBase):
    """Free bytes on the filesystem that holds ``path`` (its nearest existing parent)."""

    def command(self, path: str) -> str:
        return (
            f'p={shlex.quote(path)}; while [ ! -e "$p" ]; do p=$(dirname "$p"); done; '
            "df -P -B1 \"$p\" | awk 'NR==2 {print $4}'"
        )

    def process(self, output: list[str]) -> int | None:
        text = "".join(output).strip()
        return int(text) if text.isdigit() else None


class UsedBytes(FactBase):
    """Bytes the files under ``path`` take (0 when it does not exist yet)."""

    def command(self, path: str) -> str:
        return f"du -sb {shlex.quote(path)} 2>/dev/null | cut -f1 || true"

    @staticmethod
    def default() -> int:
        return 0  # no output: the folder does not exist

    def process(self, output: list[str]) -> int:
        text = "".join(output).strip()
        return int(text) if text.isdigit() else 0


class UnitState(FactBase):
    """``systemctl show`` properties of a unit: ActiveState, SubState, NRestarts, Result and
    LoadState (``not-found`` for a unit that does not exist, which systemd still reports as
    inactive/dead). The one read of a unit's state: the deploy and the ready gate use it."""

    @staticmethod
    def default() -> dict[str, str]:
        return {}

    def command(self, unit: str) -> str:
        return (
            f"systemctl show --property=ActiveState,SubState,NRestarts,Result,LoadState "
            f"{shlex.quote(unit)} 2>/dev/null || true"
        )

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


class GroupIds(FactBase):
    """The host's numeric ids of some groups (``getent group``): name -> GID; absent ones left
    out."""

    @staticmethod
    def default() -> dict[str, int]:
        return {}

    def command(self, groups: list[str]) -> str:
        return f"getent group {' '.join(shlex.quote(g) for g in groups)} || true"

    def process(self, output: list[str]) -> dict[str, int]:
        ids = {}
        for line in output:
            parts = line.strip().split(":")
            if len(parts) >= 3 and parts[2].isdigit():
                ids[parts[0]] = int(parts[2])
        return ids


class MountPoint(FactBase):
    """The mount point of the filesystem that holds ``path`` (its nearest existing parent)."""

    def command(self, path: str) -> str:
        return (
            f'p={shlex.quote(path)}; while [ ! -e "$p" ]; do p=$(dirname "$p"); done; '
            "df -P \"$p\" | awk 'NR==2 {print $6}'"
        )

    def process(self, output: list[str]) -> str | None:
        text = "".join(output).strip()
        return text if text.startswith("/") else None


class FileText(FactBase):
    """A small text file's contents on the host, or None when it is absent."""

    def command(self, path: str) -> str:
        return f"cat {shlex.quote(path)} 2>/dev/null || true"

    def process(self, output: list[str]) -> str | None:
        return "\n".join(output) if output else None
