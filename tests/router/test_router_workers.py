"""The reconciler's decisions, against a stand-in for vllm-router's three admin routes (the live
tests run it against the real router): add only what answers /health 200, remove what the list
no longer names, never touch the rest."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from vllm_fleet.router.router_workers import (
    main,
    read_workers,
    reconcile,
    run,
    set_drained,
    wanted_workers,
)


class Fleet:
    """One server playing vllm-router's admin API (/list_workers, /add_worker, /remove_worker)
    and the workers' /health (/w/<name>/health: 200 for names in ``healthy``)."""

    def __init__(self) -> None:
        self.held: set[str] = set()
        self.healthy: set[str] = set()
        self.calls: list[str] = []
        fleet = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args) -> None:
                pass

            def _send(self, status: int, body: str) -> None:
                data = body.encode()
                self.send_response(status)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                path = urlparse(self.path).path
                if path == "/list_workers":
                    return self._send(200, json.dumps({"urls": sorted(fleet.held)}))
                name = path.split("/")[2] if path.startswith("/w/") else ""
                self._send(200 if name in fleet.healthy else 503, "")

            def do_POST(self) -> None:
                parsed = urlparse(self.path)
                url = parse_qs(parsed.query)["url"][0]
                fleet.calls.append(f"{parsed.path} {url}")
                if parsed.path == "/add_worker":
                    fleet.held.add(url)
                else:
                    fleet.held.discard(url)
                self._send(200, f"ok {url}")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def worker(self, name: str) -> str:
        return f"{self.url}/w/{name}"


@pytest.fixture
def fleet() -> Iterator[Fleet]:
    fleet = Fleet()
    thread = threading.Thread(target=fleet.server.serve_forever, daemon=True)
    thread.start()
    yield fleet
    fleet.server.shutdown()


def test_the_list_file_skips_comments_and_drained_hosts(tmp_path: Path) -> None:
    path = tmp_path / "workers"
    path.write_text("# header\nhttp://a:8000/  # a\n\n# http://b:8000  # b: drained\n")
    assert read_workers(path) == ["http://a:8000"]


def test_only_healthy_workers_are_added_and_unlisted_ones_removed(fleet: Fleet) -> None:
    loading, ready, gone = fleet.worker("loading"), fleet.worker("ready"), fleet.worker("gone")
    fleet.healthy = {"ready"}
    fleet.held = {gone}
    lines: list[str] = []
    reconcile(fleet.url, [loading, ready], lines.append)
    assert fleet.held == {ready}
    assert fleet.calls == [f"/remove_worker {gone}", f"/add_worker {ready}"]
    # Once the loading worker answers, the next pass adds it; held ones are left alone.
    fleet.healthy.add("loading")
    fleet.calls.clear()
    reconcile(fleet.url, [loading, ready], lines.append)
    assert fleet.calls == [f"/add_worker {loading}"]
    assert lines[-1] == f"add {loading}: ok {loading}"


def test_a_router_that_is_not_up_yet_is_retried_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "workers"
    path.write_text("http://127.0.0.1:9/w/a\n")
    lines: list[str] = []
    run("http://127.0.0.1:9", path, interval=0.01, log=lines.append, passes=3)
    assert len(lines) == 1 and lines[0].startswith("cannot reconcile yet (URLError")


def test_a_drained_worker_leaves_the_router_and_comes_back_when_undrained(
    fleet: Fleet, tmp_path: Path
) -> None:
    """The rollout's drain: the file takes the worker out at run time; `drain` returns only once
    the router no longer holds it, `undrain` once it holds it again (the loop makes both)."""
    a, b = fleet.worker("a"), fleet.worker("b")
    fleet.healthy = {"a", "b"}
    workers, drained = tmp_path / "workers", tmp_path / "drained"
    workers.write_text(f"{a}\n{b}\n")
    loop = threading.Thread(
        target=run,
        args=(fleet.url, workers, 0.05, lambda _line: None),
        kwargs={"passes": 200, "drained_file": drained},
        daemon=True,
    )
    loop.start()
    for _ in range(100):  # the loop adds both first
        if fleet.held == {a, b}:
            break
        time.sleep(0.05)
    router = ["--router", fleet.url, "--workers-file", str(workers), "--drained-file", str(drained)]
    main([*router, "--timeout", "5", "drain", b])
    assert fleet.held == {a}
    assert read_workers(drained) == [b]
    assert wanted_workers(workers, drained) == [a]
    main([*router, "--timeout", "5", "undrain", b])
    assert fleet.held == {a, b}
    assert read_workers(drained) == []


def test_a_drain_the_router_never_shows_fails_with_the_worker_named(
    fleet: Fleet, tmp_path: Path
) -> None:
    b = fleet.worker("b")
    fleet.held = {b}  # no reconciler loop running: nothing removes it
    router = ["--router", fleet.url, "--workers-file", str(tmp_path / "workers")]
    with pytest.raises(SystemExit, match=f"drain: {b} not removed by the router within 1 s"):
        main([*router, "--drained-file", str(tmp_path / "drained"), "--timeout", "1", "drain", b])


def test_a_missing_drained_file_drains_nothing(tmp_path: Path) -> None:
    workers = tmp_path / "workers"
    workers.write_text("http://a:8000\n")
    assert wanted_workers(workers, tmp_path / "absent") == ["http://a:8000"]
    set_drained(tmp_path / "drained", "http://a:8000", drained=True)
    assert oct((tmp_path / "drained").stat().st_mode & 0o777) == "0o644"
    assert wanted_workers(workers, tmp_path / "drained") == []
