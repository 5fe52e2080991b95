"""The end of a tool's console log, for error messages: where a tool says why it failed."""

from __future__ import annotations

from pathlib import Path


def log_tail(log_file: Path, lines: int = 20) -> list[str]:
    """The last non-empty ``lines`` of ``log_file``; progress bars' carriage returns count as
    line ends (a tqdm bar is one very long line otherwise). Empty if the file cannot be read."""
    try:
        text = log_file.read_text(errors="replace").replace("\r", "\n")
    except OSError:
        return []
    return [line for line in text.splitlines() if line.strip()][-lines:]
