"""Progress on long work (an image build, a deploy, a demo stage): never a silent minute.

On a terminal the current step is one status line, rewritten in place with its elapsed time and
the step's latest output, while lines worth keeping (a deploy's operations) scroll above it.
Without a terminal (CI, a pipe, a log file) each new step is one plain line, and a heartbeat line
follows every ``HEARTBEAT_SECONDS`` without other output, saying what is still running, for how
long, and its latest output, so a log shows the job is alive and where.

    progress = Progress()
    with progress.ticking():           # a thread calls tick() every second
        progress.section("cpu image")
        progress.status("step 5/16: RUN pip install ...")
        progress.detail("Downloading torch-2.13.0 (180 MB)")
        progress.line("--> Starting operation: ...")   # kept in the scrollback
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

HEARTBEAT_SECONDS = 15.0
# On a terminal, the status line is redrawn this often (its clock ticks in whole seconds).
TICK_SECONDS = 1.0
CLEAR_LINE = "\r\x1b[K"
# Without a terminal a step is one line of at most this many characters (a RUN step can be 20
# lines of shell); build/<target>/Dockerfile has it whole.
PLAIN_WIDTH = 120


def elapsed(seconds: float) -> str:
    """``45s``, ``3m05s``."""
    whole = int(seconds)
    return f"{whole // 60}m{whole % 60:02d}s" if whole >= 60 else f"{whole}s"


def shorten(text: str, width: int) -> str:
    """One line of at most ``width`` characters (an ellipsis marks a cut)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: max(width - 1, 0)] + "…"


class Progress:
    """Reports the current step of long work to ``out`` (default: stdout).

    + terminal: draw a status line in place (default: whether ``out`` is a terminal)
    + clock: seconds, monotonic (tests pass a fake one)
    + width: the terminal's width for the status line (default: asked of the terminal)
    """

    def __init__(
        self,
        out: TextIO | None = None,
        *,
        terminal: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
        width: int | None = None,
        heartbeat: float = HEARTBEAT_SECONDS,
    ) -> None:
        self.out = out if out is not None else sys.stdout
        self.terminal = _is_terminal(self.out) if terminal is None else terminal
        self.clock = clock
        self.width = width
        self.heartbeat = heartbeat
        self._section = ""
        self._status = ""
        self._detail = ""
        self._since = self._last_output = clock()
        self._drawn = False
        self._lock = threading.Lock()

    def section(self, name: str) -> None:
        """A new stage of the work (``cpu image``, ``deploy``): its name heads the status."""
        with self._lock:
            self._section, self._status, self._detail = name, "", ""
            self._since = self._last_output = self.clock()
            self._redraw()

    def status(self, text: str) -> None:
        """The step now running; a plain line without a terminal."""
        with self._lock:
            if text == self._status:
                return
            self._status, self._detail = text, ""
            self._since = self._last_output = self.clock()
            if self.terminal:
                self._redraw()
            else:
                self._write(f"  {shorten(text, PLAIN_WIDTH)}\n")

    def detail(self, text: str) -> None:
        """The running step's latest output: shown on the status line and in heartbeats, not
        printed on its own."""
        with self._lock:
            if text.strip():
                self._detail = text.strip()
                if self.terminal:
                    self._redraw()

    def line(self, text: str) -> None:
        """A line to keep (a deploy's operation, a stage's result), printed as it comes."""
        with self._lock:
            self._last_output = self.clock()
            if self.terminal:
                self._write(f"{CLEAR_LINE}{text}\n")
                self._drawn = False
                self._redraw()
            else:
                self._write(f"{text}\n")

    def tick(self) -> None:
        """Called every second or so: on a terminal, refresh the elapsed time; otherwise print
        a heartbeat after ``heartbeat`` seconds without output."""
        with self._lock:
            now = self.clock()
            if self.terminal:
                self._redraw()
            elif self._what() and now - self._last_output >= self.heartbeat:
                self._last_output = now
                self._write(
                    f"  ... {self._what()}: still running, {elapsed(now - self._since)}"
                    + (f" (last output: {shorten(self._detail, 100)})" if self._detail else "")
                    + "\n"
                )

    def done(self) -> None:
        """Take the status line off the terminal (plain output needs nothing)."""
        with self._lock:
            if self._drawn:
                self._write(CLEAR_LINE)
                self._drawn = False
            self._section = self._status = self._detail = ""

    @contextmanager
    def ticking(self, every: float = TICK_SECONDS) -> Iterator[Progress]:
        """Run ``tick`` on a background thread until the block ends."""
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(every):
                self.tick()

        thread = threading.Thread(target=beat, name="progress", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            stop.set()
            thread.join()
            self.done()

    def _what(self) -> str:
        return ", ".join(part for part in (self._section, self._status) if part)

    def _redraw(self) -> None:
        if not self.terminal or not self._what():
            return
        width = (self.width or shutil.get_terminal_size().columns) - 1
        text = f"[{elapsed(self.clock() - self._since)}] {self._what()}"
        if self._detail:  # the step keeps at most 3/5 of the line, its latest output the rest
            head = shorten(text, width * 3 // 5)
            text = f"{head} | {self._detail}"
        self._write(CLEAR_LINE + shorten(text, width))
        self._drawn = True

    def _write(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()


def stream_command(
    argv: list[str], on_line: Callable[[str], None], *, cwd: Path | None = None
) -> int:
    """Run ``argv`` with stdout and stderr merged, hand each line to ``on_line`` as soon as it
    is printed, and return the exit code. The child's Python output is unbuffered
    (PYTHONUNBUFFERED), so a pyinfra run's operations arrive as they happen, not at exit."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        bufsize=1,
    ) as proc:
        for line in proc.stdout or []:
            on_line(line.rstrip("\n"))
        return proc.wait()


def _is_terminal(out: TextIO) -> bool:
    try:
        return out.isatty()
    except (AttributeError, ValueError):
        return False
