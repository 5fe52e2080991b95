"""The routers of an inventory, resolved without connecting: pools, addresses, units, HAProxy's
configuration, and every bad input as one line naming the file and the field."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from invoke import Context, Exit

from vllm_fleet.errors import ConfigError
from vllm_fleet.paths import INVENTORY_DIR
from vllm_fleet.router import render
from vllm_fleet.router.plan import plan_routers
from vllm_fleet.router.spec import resolve_routers
from vllm_fleet.serving.inventory import load_inventory
from vllm_fleet.tasks.plan import plan

PROD = str(INVENTORY_DIR / "prod.py")
H200 = ["h200-01.example.internal", "h200-02.example.internal"]
MI300X = ["mi300x-01.example.internal", "mi300x-02.example.internal"]


def fleet(
    tmp_path: Path, routers: str, extra_groups: str = "", group_data: dict[str, str] | None = None
) -> Path:
    """prod's serving groups and group data, with ``routers`` (and more groups) of our own."""
    folder = tmp_path / "inv"
    shutil.copytree(INVENTORY_DIR / "group_data", folder / "group_data")
    for name, text in (group_data or {}).items():
        (folder / "group_data" / f"{name}.py").write_text(text)
    serving = (INVENTORY_DIR / "prod.py").read_text().split("\nrouters = [", 1)[0]
    path = folder / "fleet.py"
    path.write_text(f"{serving}\n{extra_groups}\nrouters = {routers}\n")
    return path


def test_prod_router_fronts_every_serving_host() -> None:
    (spec,) = resolve_routers(load_inventory(PROD))
    assert spec.host == "router-01.example.internal"
    assert spec.url == "http://router-01.example.internal:8080"
    assert (spec.model, spec.pool) == ("kimi-k2-thinking", "inventory")
    assert [w.host for w in spec.workers] == H200 + MI300X
    assert spec.rotation == tuple(f"http://{h}:8000" for h in H200 + MI300X)
    assert spec.api_key is None  # no key configured on this controller


def test_router_unit_starts_with_no_workers_on_loopback_with_metrics_and_short_health() -> None:
    (spec,) = resolve_routers(load_inventory(PROD))
    unit = render.router_unit(spec)
    assert "--worker-urls" not in unit  # else vllm-router exits after its 600 s start-up wait
    for option in (
        "--host 127.0.0.1",
        "--port 30000",
        "--policy cache_aware",
        "--prometheus-host 127.0.0.1",
        "--prometheus-port 29000",
        "--health-check-interval-secs 4",
        "--health-failure-threshold 3",
    ):
        assert option in unit, option
    # Out of rotation within 15 s by default, a hung host included: the first failing probe
    # starts at most one interval after the death, then failures - 1 more intervals, and the
    # last probe may take its whole timeout.
    s = spec.settings
    assert "--health-check-timeout-secs 3" in unit
    assert s.router_health_failures * s.router_health_interval_s + s.router_health_timeout_s <= 15
    assert "User=vllm-router" in unit
    workers = render.workers_unit(spec)
    assert f"--workers-file {spec.workers_file}" in workers
    assert "PartOf=vllm-router.service" in workers


def test_haproxy_forwards_only_api_routes_and_asks_for_the_key(monkeypatch) -> None:
    (spec,) = resolve_routers(load_inventory(PROD), frozenset({"VLLM_API_KEY"}))
    config = render.haproxy_config(spec)
    assert "bind 0.0.0.0:8080" in config
    assert "server vllm-router 127.0.0.1:30000" in config
    assert (
        "http-request deny deny_status 403 unless api_route || probe_route || "
        "metrics_route" in config
    )
    assert f"-f {spec.key_file}" in config and spec.key_file == "/etc/vllm-fleet/router-api-keys"
    (keyless,) = resolve_routers(load_inventory(PROD))
    assert "key_ok" not in render.haproxy_config(keyless)


@pytest.mark.skipif(shutil.which("haproxy") is None, reason="haproxy is not installed here")
def test_haproxy_accepts_the_rendered_configuration(tmp_path: Path) -> None:
    """`haproxy -c` (the check the deploy runs before a configuration goes live)."""
    import dataclasses

    (spec,) = resolve_routers(load_inventory(PROD), frozenset({"VLLM_API_KEY"}))
    spec = dataclasses.replace(
        spec, settings=dataclasses.replace(spec.settings, vllm_secrets_dir=str(tmp_path))
    )
    Path(spec.key_file).write_text("Bearer sk-test\n")
    config = tmp_path / "haproxy.cfg"
    config.write_text(render.haproxy_config(spec).replace("chroot /var/lib/haproxy\n", ""))
    proc = subprocess.run(["haproxy", "-c", "-f", str(config)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_pool_group_and_a_drained_host(tmp_path: Path) -> None:
    path = fleet(tmp_path, '[("router-01", {"router_pool": "nvidia_h200"})]')
    text = path.read_text().replace(
        '("h200-02.example.internal", {"profile": "throughput"})',
        '("h200-02.example.internal", {"profile": "throughput", "router_drain": True})',
    )
    path.write_text(text)
    (spec,) = resolve_routers(load_inventory(path))
    assert [w.host for w in spec.workers] == H200
    assert spec.rotation == ("http://h200-01.example.internal:8000",)
    listing = render.workers_file(spec)
    assert "\nhttp://h200-01.example.internal:8000" in listing
    assert "\n# http://h200-02.example.internal:8000" in listing  # kept, as a comment


def test_a_gpu_host_may_also_be_a_router(tmp_path: Path) -> None:
    path = fleet(tmp_path, '["h200-01.example.internal"]')
    (spec,) = resolve_routers(load_inventory(path))
    assert spec.host == "h200-01.example.internal"
    assert "http://h200-01.example.internal:8000" in spec.rotation


BAD = [
    (
        "pool names an unknown group",
        '[("router-01", {"router_pool": "nvidia_h100"})]',
        "",
        {},
        "fleet.py: router_pool: unknown group 'nvidia_h100'; the inventory's groups: amd_mi300x, "
        "fleet, nvidia_h200, routers",
    ),
    (
        "pool is a group that serves nothing",
        '[("router-01", {"router_pool": "cpu_boxes"})]',
        'cpu_boxes = ["cache-01"]',
        {},
        "fleet.py: router_pool: router router-01's pool 'cpu_boxes' is empty: none of its hosts "
        "serves a model",
    ),
    (
        "pool mixes models",
        '["router-01"]',
        "",
        {
            "amd_mi300x": (INVENTORY_DIR / "group_data" / "amd_mi300x.py")
            .read_text()
            .replace('model = "kimi-k2-thinking"', 'model = "kimi-tiny"')
        },
        "group_data/all.py: router_pool: router router-01's pool 'inventory' mixes models "
        "(kimi-k2-thinking: h200-01.example.internal, h200-02.example.internal; kimi-tiny: "
        "mi300x-01.example.internal, mi300x-02.example.internal); a router fronts one model",
    ),
    (
        "two routers claim one address",
        '[("router-01", {"router_url": "http://llm.example.internal"}), '
        '("router-02", {"router_url": "http://llm.example.internal/"})]',
        "",
        {},
        "fleet.py: router_url: routers router-01 and router-02 both claim "
        "http://llm.example.internal; give each router its own address",
    ),
    (
        "a policy vllm-router does not have",
        '["router-01"]',
        "",
        {"routers": 'router_policy = "least_loaded"\n'},
        "group_data/routers.py: router_policy: 'least_loaded' is not valid; valid: cache_aware, "
        "round_robin, random, power_of_two, consistent_hash, sticky_least_loaded, kv_aware",
    ),
]


@pytest.mark.parametrize(
    ("case", "routers", "groups", "group_data", "message"), BAD, ids=[row[0] for row in BAD]
)
def test_bad_router_input_is_one_line(
    tmp_path: Path, case: str, routers: str, groups: str, group_data: dict[str, str], message: str
) -> None:
    path = fleet(tmp_path, routers, groups, group_data)
    with pytest.raises(ConfigError) as info:
        resolve_routers(load_inventory(path))
    assert message in str(info.value)
    # invoke plan stops on it too, in one line, before planning anything
    with pytest.raises(Exit) as stopped:
        plan(Context(), inventory=str(path), json=True)
    assert message in str(stopped.value.message)
    assert "\n" not in str(stopped.value.message)


def test_plan_json_shows_the_router_unit_workers_and_url(
    capsys: pytest.CaptureFixture[str],
) -> None:
    plan(Context(), inventory=PROD, host="router-01.example.internal", json=True)
    # router-01 is also prod's hub cache: its plan has one entry per role.
    entries = {e["role"]: e for e in json.loads(capsys.readouterr().out)}
    assert set(entries) == {"router", "hub_cache"}
    entry = entries["router"]
    assert entry["url"] == "http://router-01.example.internal:8080"
    assert [w["url"] for w in entry["workers"]] == [f"http://{h}:8000" for h in H200 + MI300X]
    assert entry["unit"]["path"] == "/etc/systemd/system/vllm-router.service"
    assert "--policy cache_aware" in entry["unit"]["text"]
    assert set(entry["files"]) == {
        "/etc/systemd/system/vllm-router.service",
        "/etc/systemd/system/vllm-router-workers.service",
        "/opt/vllm-fleet/router/etc/workers",
        "/etc/haproxy/haproxy.cfg",
    }


def test_plan_text_shows_the_router(capsys: pytest.CaptureFixture[str]) -> None:
    plan(Context(), inventory=PROD, host="router-01.example.internal")
    out = capsys.readouterr().out
    assert "clients: http://router-01.example.internal:8080" in out
    assert "  http://mi300x-02.example.internal:8000  mi300x-02.example.internal" in out
    assert "ExecStart=/opt/vllm-fleet/router/bin/vllm-router \\\n" in out


def test_plan_routers_of_one_host_still_checks_the_whole_fleet(tmp_path: Path) -> None:
    path = fleet(tmp_path, '[("router-01", {"router_pool": "nope"}), "router-02"]')
    with pytest.raises(ConfigError, match="unknown group 'nope'"):
        plan_routers(path, host="router-02")
