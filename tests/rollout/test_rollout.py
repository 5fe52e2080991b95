"""What `invoke rollout` says when a batch fails: the ready gate's own message where pyinfra
printed it (stage, rollback, journal lines), else pyinfra's last lines."""

from __future__ import annotations

from vllm_fleet.rollout.rollout import OUTPUT_LINES_KEPT, failure_message

# pyinfra's output of a deploy whose gate failed and rolled back (cut from a sandbox run).
GATE_OUTPUT = """\
--> Starting operation: Ready gate | Wait for http://127.0.0.1:8000/health, then smoke it
        [sandbox-1] ready gate failed (health); rolling back
        [sandbox-1] http://127.0.0.1:8000/health ready after 17 s
    Traceback (most recent call last):
  File "/repo/src/vllm_fleet/deploy/ready.py", line 64, in wait_then_smoke
pyinfra.api.exceptions.OperationError: ready gate failed at health; rolled back to reg/cpu@sha256:b (spec 2e52, revision main), serving again after 17 s. vllm-serve.service stopped while loading (NRestarts=1); last journal lines:
vllm-fleet test image: this vllm exits at start
vllm-serve.service: Failed with result 'exit-code'.

    [sandbox-1] Unexpected error in Python callback: OperationError("ready gate failed at ...")
    [sandbox-1] Error: executed 0 commands
""".splitlines()  # noqa: E501


def test_a_failed_gate_is_reported_by_its_own_message_and_journal_lines() -> None:
    message = failure_message(
        ["sandbox-1"], "deploy/serve.py", GATE_OUTPUT, ["sandbox-2", "sandbox-3"]
    )
    assert message.splitlines() == [
        "deploy/serve.py failed on sandbox-1; not reached, untouched: sandbox-2, sandbox-3:",
        "ready gate failed at health; rolled back to reg/cpu@sha256:b (spec 2e52, revision main),"
        " serving again after 17 s. vllm-serve.service stopped while loading (NRestarts=1); "
        "last journal lines:",
        "vllm-fleet test image: this vllm exits at start",
        "vllm-serve.service: Failed with result 'exit-code'.",
    ]


def test_any_other_failure_gives_pyinfra_s_last_lines() -> None:
    output = [f"line {n}" for n in range(100)]
    message = failure_message(["h200-01"], "deploy", output)
    assert message.splitlines()[0] == "deploy failed on h200-01:"
    assert message.splitlines()[1:] == output[-OUTPUT_LINES_KEPT:]
