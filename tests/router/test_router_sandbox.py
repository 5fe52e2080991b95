"""The router for real, on the sandbox fleet: `pyinfra inventory/sandbox.py deploy/router.py` puts
vllm-router (PyPI), its worker reconciler and HAProxy (Debian) on host 1 over SSH, in front of the
three serving hosts, which it reaches by name on the sandbox network. Clients use host 1's
HAProxy, published on the controller's 127.0.0.1:8080; vllm-router's own port is not published.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import httpx
import pytest

from deploy.sandbox_harness import MODEL, Deployment, ssh_host, totals
from vllm_fleet.hostdata import HostSettings
from vllm_fleet.local import sandbox
from vllm_fleet.monitoring.status import read_router_workers
from vllm_fleet.smoke import run_smoke
from vllm_fleet.smoke.metrics import parse_metrics

pytestmark = pytest.mark.slow
ROUTER = sandbox.SandboxHost(sandbox.ROUTER_HOST_INDEX)
URL = sandbox.ROUTER_URL
SETTINGS = HostSettings()
# A dead worker is out of rotation within interval x failures + timeout (15 s by default).
WINDOW_S = (
    SETTINGS.router_health_interval_s * SETTINGS.router_health_failures
    + SETTINGS.router_health_timeout_s
)


def deploy_router(fleet: Deployment, *extra: str) -> None:
    """deploy/router.py on the router host, with the fleet's key in the environment."""
    result = fleet.run("--limit", ROUTER.name, *extra, deploy="deploy/router.py")
    assert result.returncode == 0, result.stdout[-4000:]


def rotation() -> dict[str, str]:
    """The router's workers and their health, as its /metrics (through HAProxy) reports them."""
    with httpx.Client(timeout=5) as client:
        return read_router_workers(client, URL) or {}


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> float:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, f"{what}: not within {timeout:.0f} s"
        time.sleep(0.2)
    return time.monotonic() - started


def every_host_in_rotation(fleet: list[sandbox.SandboxHost]) -> bool:
    return rotation() == {h.worker_url: "healthy" for h in fleet}


@pytest.fixture(scope="module")
def routed(served_fleet: Deployment, sandbox_fleet: list[sandbox.SandboxHost]) -> Deployment:
    """The served fleet behind the router (default policy, cache_aware), every host in rotation."""
    started = time.monotonic()
    deploy_router(served_fleet)
    wait_for(lambda: every_host_in_rotation(sandbox_fleet), 120, "every host in rotation")
    print(
        f"router deploy until {len(sandbox_fleet)} workers in rotation: "
        f"{time.monotonic() - started:.0f} s"
    )
    return served_fleet


def chat(text: str, key: str | None) -> httpx.Response:
    return httpx.post(
        f"{URL}/v1/chat/completions",
        headers={"Authorization": f"Bearer {key}"} if key else {},
        timeout=120,
        json={
            "model": MODEL.served_model_name,
            "max_tokens": 16,
            "temperature": 0,
            "messages": [{"role": "user", "content": text}],
        },
    )


def served_per_host(fleet: list[sandbox.SandboxHost]) -> dict[str, float]:
    """Each host's own count of finished requests (vllm:request_success_total)."""
    counts = {}
    for host in fleet:
        samples = parse_metrics(httpx.get(f"{host.url}/metrics", timeout=10).text)
        counts[host.name] = sum(s.value for s in samples if s.name == "vllm:request_success_total")
    return counts


def test_every_smoke_check_passes_through_the_router(routed: Deployment) -> None:
    report = run_smoke(URL, MODEL.served_model_name, api_key=routed.api_key)
    assert report.passed, {c.name: c.detail for c in report.failed}
    assert "finish 'tool_calls', [DONE] seen" in report.check("tool_call_stream").detail
    assert report.check("auth").detail == "without the key: 401; with it: 200"


def test_a_second_router_deploy_changes_nothing(routed: Deployment) -> None:
    again = routed.run("--limit", ROUTER.name, deploy="deploy/router.py")
    assert again.returncode == 0, again.stdout[-3000:]
    assert totals(again)[:2] == ("-", "-"), again.stdout[-3000:]


def test_without_the_key_401_with_it_200(routed: Deployment) -> None:
    assert chat("What is 2+2?", key=None).status_code == 401
    assert chat("What is 2+2?", key="sk-wrong").status_code == 401
    assert chat("What is 2+2?", key=routed.api_key).status_code == 200


def test_admin_routes_are_refused_from_the_controller(
    routed: Deployment, sandbox_fleet: list[sandbox.SandboxHost]
) -> None:
    auth = {"Authorization": f"Bearer {routed.api_key}"}
    for method, path in [
        ("POST", "/add_worker?url=http://127.0.0.1:9"),
        ("POST", f"/remove_worker?url={sandbox_fleet[1].worker_url}"),
        ("GET", "/list_workers"),
        ("GET", "/workers"),
        ("POST", "/flush_cache"),
        ("GET", "/get_loads"),
    ]:
        response = httpx.request(method, f"{URL}{path}", headers=auth, timeout=10)
        assert response.status_code == 403, (path, response.status_code)
    sneaky = httpx.post(f"{URL}/v1/%2e%2e/add_worker?url=http://127.0.0.1:9", headers=auth)
    assert sneaky.status_code == 400
    # vllm-router's own port answers on the router host's loopback only.
    backend = SETTINGS.router_backend_port
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{backend}/list_workers", timeout=5)
    router_host = ssh_host(ROUTER)
    held = router_host.check_output(f"curl -fsS http://127.0.0.1:{backend}/list_workers")
    assert all(h.worker_url in held for h in sandbox_fleet), held


def test_the_key_is_in_no_command_line_journal_or_readable_file(routed: Deployment) -> None:
    """The canary key, after requests with and without it, on the router host: only in
    root-only files."""
    assert chat("What is 2+2?", key=routed.api_key).status_code == 200
    router_host = ssh_host(ROUTER)
    key = routed.api_key
    assert key not in router_host.check_output("ps -eo args")
    journal = router_host.check_output(
        "journalctl --no-pager -u vllm-router -u vllm-router-workers -u haproxy"
    )
    assert journal and key not in journal
    holders = router_host.check_output(
        f"grep -rlF {key} /etc /opt/vllm-fleet /var/log 2>/dev/null || true"
    ).split()
    assert "/etc/vllm-fleet/router-api-keys" in holders
    for path in holders:
        mode = router_host.file(path).mode
        assert mode & 0o004 == 0 and router_host.file(path).user == "root", (path, oct(mode))


@pytest.fixture(scope="module")
def round_robin(routed: Deployment, sandbox_fleet: list[sandbox.SandboxHost]) -> Deployment:
    """The same router with round_robin: cache_aware sends every request that shares a prefix
    (the chat template's, at least) to one worker while load is balanced (vllm-router
    docs/load_balancing/README.md), so spread and failover are shown with the policy that
    spreads by construction."""
    deploy_router(routed, "--data", "router_policy=round_robin")
    wait_for(lambda: every_host_in_rotation(sandbox_fleet), 120, "every host back in rotation")
    return routed


def test_requests_spread_over_every_host(
    round_robin: Deployment, sandbox_fleet: list[sandbox.SandboxHost]
) -> None:
    before = served_per_host(sandbox_fleet)
    for i in range(3 * len(sandbox_fleet)):
        assert chat(f"Question {i}?", key=round_robin.api_key).status_code == 200
    after = served_per_host(sandbox_fleet)
    grew = {name: after[name] - before[name] for name in before}
    assert all(count >= 1 for count in grew.values()), grew


def test_a_stopped_host_leaves_rotation_in_time_no_request_fails_and_it_comes_back(
    round_robin: Deployment, sandbox_fleet: list[sandbox.SandboxHost]
) -> None:
    """`systemctl stop` on host 3 during a bounded burst (12 requests, one after another): every
    request succeeds, the host is out of rotation within the health window, and once started
    again it is back."""
    victim = sandbox_fleet[-1]
    victim_host = ssh_host(victim)
    out_of_rotation: list[float] = []

    def stop_and_watch() -> None:
        stopped = time.monotonic()
        threading.Thread(target=victim_host.run, args=("systemctl stop vllm-serve",)).start()
        out_of_rotation.append(
            wait_for(lambda: rotation().get(victim.worker_url) == "unhealthy", 60, "out")
        )
        out_of_rotation.append(time.monotonic() - stopped)

    watcher = threading.Thread(target=stop_and_watch)
    statuses = []
    for i in range(12):
        if i == 3:
            watcher.start()
        statuses.append(chat(f"Burst {i}?", key=round_robin.api_key).status_code)
    watcher.join()
    print(
        f"failover: {statuses.count(200)}/{len(statuses)} ok while {victim.name} stopped; out "
        f"of rotation {out_of_rotation[-1]:.1f} s after the stop began"
    )
    assert statuses == [200] * len(statuses)
    assert out_of_rotation[-1] <= WINDOW_S
    assert [chat(f"After {i}?", key=round_robin.api_key).status_code for i in range(4)] == [200] * 4

    victim_host.run("systemctl start vllm-serve")
    wait_for(lambda: _health(victim.url) == 200, 300, f"{victim.name} healthy")
    back = wait_for(
        lambda: rotation().get(victim.worker_url) == "healthy", WINDOW_S, "back in rotation"
    )
    print(f"back in rotation {back:.1f} s after its /health answered")


def _health(url: str) -> int:
    try:
        return httpx.get(f"{url}/health", timeout=5).status_code
    except httpx.HTTPError:
        return 0
