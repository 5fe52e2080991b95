"""Keep vllm-router's workers equal to a file's list, adding each one only once it is healthy.

Runs on the router host as its own unit (`<router unit>-workers`), with the router venv's Python
and the standard library only. vllm-router starts with no workers: given --worker-urls it waits
--worker-startup-timeout-secs (600 s) for every one of them and exits if one is still loading
(a cold Kimi-K2 start takes longer). So this loop, every few seconds:

- adds a listed worker that the router does not hold yet, once the worker's /health answers 200
  (POST /add_worker?url=...);
- removes a worker the router holds that the file no longer lists (POST /remove_worker?url=...):
  vllm-router stops sending it new requests and lets in-flight ones finish;
- after a router restart (its worker list lives in memory only) adds the healthy ones again.

A worker that fails later stays on the router's list: the router's own health checks take it
out of rotation and put it back when /health answers again.

The drained file (one URL per line, beside the worker list) takes workers out at run time,
without a deploy of the router: `invoke rollout` drains a host before restarting it with

    python router_workers.py --router ... --workers-file ... --drained-file ... drain URL
    python router_workers.py ... undrain URL

which edit that file and wait until the router's list shows the change, so the rollout knows
no new request reaches the host (drain), or that it serves again (undrain: it is added once
its /health answers). Admin routes are those of
vllm-router 0.1.17 (src/server.rs in github.com/vllm-project/router); they are reached on
127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

Log = Callable[[str], None]


def read_workers(path: Path) -> list[str]:
    """The worker URLs of ``path``: one per line; blank lines and # comments skipped."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line.rstrip("/") for line in lines if line]


def wanted_workers(workers_file: Path, drained_file: Path | None) -> list[str]:
    """The listed workers that are not drained (a missing drained file drains none)."""
    drained = set(read_workers(drained_file)) if drained_file and drained_file.exists() else set()
    return [w for w in read_workers(workers_file) if w not in drained]


def set_drained(drained_file: Path, worker: str, drained: bool) -> None:
    """Add ``worker`` to the drained file or take it out (written whole, then renamed)."""
    present = read_workers(drained_file) if drained_file.exists() else []
    kept = [w for w in present if w != worker] + ([worker] if drained else [])
    partial = drained_file.with_name(drained_file.name + ".partial")
    partial.write_text("".join(f"{w}\n" for w in kept))
    partial.chmod(0o644)
    partial.replace(drained_file)


def wait_until(router: str, worker: str, held_wanted: bool, timeout: float) -> float:
    """Seconds until the router holds ``worker`` (or no longer does); TimeoutError after
    ``timeout``. The reconciler's own loop makes the change."""
    started = time.monotonic()
    while (worker in held(router)) != held_wanted:
        if time.monotonic() - started > timeout:
            state = "added" if held_wanted else "removed"
            raise TimeoutError(f"{worker} not {state} by the router within {timeout:.0f} s")
        time.sleep(0.5)
    return time.monotonic() - started


def held(router: str, timeout: float = 5.0) -> set[str]:
    """The workers vllm-router holds (GET /list_workers -> {"urls": [...]})."""
    with urllib.request.urlopen(f"{router}/list_workers", timeout=timeout) as response:
        return {url.rstrip("/") for url in json.load(response).get("urls", [])}


def healthy(worker: str, timeout: float = 5.0) -> bool:
    try:
        with urllib.request.urlopen(f"{worker}/health", timeout=timeout) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def admin(router: str, action: str, worker: str, timeout: float = 60.0) -> str:
    """POST /add_worker or /remove_worker; the router's answer text."""
    query = urllib.parse.urlencode({"url": worker})
    request = urllib.request.Request(f"{router}/{action}?{query}", method="POST", data=b"")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.read().decode(errors="replace").strip()


def reconcile(router: str, wanted: list[str], log: Log) -> None:
    """One pass: remove what is no longer wanted, add what is wanted and healthy."""
    present = held(router)
    for worker in sorted(present - set(wanted)):
        log(f"remove {worker}: {admin(router, 'remove_worker', worker)}")
    for worker in wanted:
        if worker in present:
            continue
        if healthy(worker):
            log(f"add {worker}: {admin(router, 'add_worker', worker)}")


def run(
    router: str,
    workers_file: Path,
    interval: float,
    log: Log,
    passes: int | None = None,
    drained_file: Path | None = None,
) -> None:
    """Reconcile every ``interval`` seconds (forever, or ``passes`` times); errors are logged
    once per kind and retried: the router may still be starting."""
    last_error = ""
    done = 0
    while passes is None or done < passes:
        try:
            reconcile(router, wanted_workers(workers_file, drained_file), log)
            last_error = ""
        except (urllib.error.URLError, OSError, ValueError) as err:
            message = f"{type(err).__name__}: {err}"
            if message != last_error:
                log(f"cannot reconcile yet ({message}); retrying every {interval:g} s")
                last_error = message
        done += 1
        if passes is None or done < passes:
            time.sleep(interval)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--router", required=True, help="vllm-router's loopback URL")
    parser.add_argument("--workers-file", required=True, type=Path)
    parser.add_argument("--drained-file", type=Path, help="workers taken out at run time")
    parser.add_argument("--interval", type=float, default=2.0)
    parser.add_argument("--timeout", type=float, default=120.0, help="for drain and undrain")
    parser.add_argument("action", nargs="?", choices=("drain", "undrain"), help="then exit")
    parser.add_argument("worker", nargs="?", help="the worker URL to drain or undrain")
    args = parser.parse_args(argv)
    router = args.router.rstrip("/")
    if args.action is None:
        run(router, args.workers_file, args.interval, _print, drained_file=args.drained_file)
        return
    if args.drained_file is None or args.worker is None:
        parser.error(f"{args.action} needs --drained-file and a worker URL")
    worker = args.worker.rstrip("/")
    set_drained(args.drained_file, worker, drained=args.action == "drain")
    try:
        seconds = wait_until(router, worker, args.action == "undrain", args.timeout)
    except TimeoutError as err:
        sys.exit(f"{args.action}: {err}")
    _print(f"{args.action}ed {worker} in {seconds:.1f} s")


def _print(line: str) -> None:
    print(line, flush=True)


if __name__ == "__main__":
    sys.exit(main())
