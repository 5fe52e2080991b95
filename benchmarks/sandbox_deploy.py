"""How the benchmarks run the operator's deploy on the sandbox: `pyinfra inventory/sandbox.py
deploy/serve.py -y` with the given options, timed; a failed run stops the benchmark with the
end of pyinfra's output."""

from __future__ import annotations

import time

from vllm_fleet.local import sandbox


def deploy(*options: str, env: dict[str, str] | None = None) -> float:
    """Seconds the deploy took."""
    started = time.monotonic()
    proc = sandbox.run_deploy("deploy/serve.py", *options, env=env)
    if proc.returncode != 0:
        what = " ".join(options) or "(every host)"
        raise SystemExit(f"deploy {what} failed:\n{proc.stdout[-3000:]}")
    return time.monotonic() - started


def limited_to(*hosts: str) -> list[str]:
    """pyinfra's options that limit a run to ``hosts`` (none: every host that is up)."""
    return [arg for name in hosts for arg in ("--limit", name)]
