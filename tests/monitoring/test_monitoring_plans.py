"""deploy/monitoring.py planned against `@fake` hosts (no GPU, vendor registry or Debian host
with Prometheus can be reached from the fast tier): an NVIDIA host, an AMD host, a router and a
monitoring host in one inventory, each host's exact operations compared with the reviewed golden
file (plans/<host>.ops.json; regenerate with UPDATE_GOLDEN=1 and review the diff).

The GPU exporters are containers pinned by digest; here the plan is the test, as for the
drivers (tests/deploy/test_plans.py).
"""

from __future__ import annotations

import json
import os
import pprint
import re
from pathlib import Path

import pytest

from deploy.plan_harness import BASE_RESPONSES, OS_RELEASES, operations, run_deploy

PLANS = Path(__file__).parent / "plans"
DIGEST = "sha256:" + "0123456789abcdef" * 4
RESPONSES = {
    "ls -pdL *-release": OS_RELEASES["debian-12"],
    **BASE_RESPONSES,
    "awk 'NR==2 {print $6}'": "/data",
}
HOSTS = {
    "h200-01": (
        "nvidia_h200",
        {
            "scrape_address": "10.0.0.11",
            "dcgm_exporter_image": f"registry.example.internal/nvidia/dcgm-exporter@{DIGEST}",
        },
    ),
    "mi300x-01": (
        "amd_mi300x",
        {
            "scrape_address": "10.0.0.12",
            "amd_metrics_exporter_image": (
                f"registry.example.internal/rocm/device-metrics-exporter@{DIGEST}"
            ),
        },
    ),
    "router-01": ("routers", {"scrape_address": "10.0.0.20", "monitored_units": ["vllm-router"]}),
    "monitor-01": (
        "monitoring",
        {
            "scrape_address": "10.0.0.30",
            "prometheus_basic_auth_user": "ops",
            "prometheus_listen_address": "0.0.0.0:9090",
            "grafana_image": f"registry.example.internal/grafana@{DIGEST}",
        },
    ),
}


def write_fleet(folder: Path, changes: dict | None = None, responses: dict | None = None) -> Path:
    groups: dict[str, list] = {}
    for name, (group, data) in HOSTS.items():
        host_data = {
            "fake_delay": 0,
            "fake_delay_jitter": 0,
            "fake_responses": {**(responses or {}), **RESPONSES},
            **data,
            **(changes or {}).get(name, {}),
        }
        groups.setdefault(group, []).append((f"@fake/{name}", host_data))
    path = folder / "fleet.py"
    path.write_text(
        "".join(f"{group} = {pprint.pformat(hosts)}\n" for group, hosts in groups.items())
    )
    return path


def deploy(inventory: Path, host: str, password: str | None = "pw-for-plans"):
    """Run deploy/monitoring.py on ``host`` of ``inventory`` (which sees the whole fleet)."""
    env_before = os.environ.get("PROMETHEUS_PASSWORD")
    if password is not None:
        os.environ["PROMETHEUS_PASSWORD"] = password
    try:
        result = run_deploy(inventory, "deploy/monitoring.py", "--limit", f"@fake/{host}")
    finally:
        os.environ.pop("PROMETHEUS_PASSWORD", None)
        if env_before is not None:
            os.environ["PROMETHEUS_PASSWORD"] = env_before
    # pyinfra pads the host prefix to the longest name of the inventory; the harness reads one
    # space.
    output = re.sub(
        r"^(\s*\[@fake/[^\]]+\])\s+", r"\1 ", result.stdout + result.stderr, flags=re.MULTILINE
    )
    return result, output


@pytest.fixture(scope="module")
def plans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, str]]:
    """Each host's deploy (``--limit``: one host at a time, as a clean plan), run once."""
    inventory = write_fleet(tmp_path_factory.mktemp("fleet"))
    out = {}
    for name in HOSTS:
        result, output = deploy(inventory, name)
        out[name] = (result.returncode, output)
    return out


@pytest.mark.parametrize("host", sorted(HOSTS))
def test_monitoring_plan(host: str, plans: dict[str, tuple[int, str]]) -> None:
    returncode, output = plans[host]
    assert returncode == 0, output[-3000:]
    ops = operations(output)
    golden = PLANS / f"{host}.ops.json"
    if os.environ.get("UPDATE_GOLDEN"):
        PLANS.mkdir(exist_ok=True)
        golden.write_text(json.dumps(ops, indent=1) + "\n")
    assert ops == json.loads(golden.read_text())
    assert "pw-for-plans" not in output


def test_only_monitoring_hosts_get_prometheus(plans: dict[str, tuple[int, str]]) -> None:
    for name, (_, output) in plans.items():
        has_prometheus = any(op.startswith("Prometheus |") for op in operations(output))
        assert has_prometheus == (name == "monitor-01"), name


def test_promtool_runs_on_the_staged_files_before_they_replace_the_live_ones(
    plans: dict[str, tuple[int, str]],
) -> None:
    ops = operations(plans["monitor-01"][1])
    (script,) = ops["Prometheus | promtool check, then install the staged files"]
    check, install = script.split("; install", 1)
    assert "promtool check config prometheus.yml" in check
    assert "promtool check rules rules/*.yml" in check
    assert "promtool check web-config web.yml" in check
    assert "rm -rf /etc/prometheus/vllm-fleet.staged; exit 1" in check
    assert "/etc/prometheus/prometheus.yml" in install


def test_a_failing_promtool_check_stops_the_deploy_with_its_message(tmp_path: Path) -> None:
    """Prometheus is neither reloaded nor restarted: the running one keeps its configuration."""
    failing = {
        "promtool check": {
            "success": False,
            "stderr": [
                'FAILED: parsing YAML file prometheus.yml: "scrape_interval" must be positive'
            ],
        }
    }
    result, output = deploy(write_fleet(tmp_path, responses=failing), "monitor-01")
    assert result.returncode != 0
    assert '"scrape_interval" must be positive' in output
    ops = operations(output)
    assert not any("Reload Prometheus" in name or "Restart Prometheus" in name for name in ops)


def test_an_nvidia_host_without_a_pinned_exporter_image_stops_before_any_change(
    tmp_path: Path,
) -> None:
    inventory = write_fleet(tmp_path, changes={"h200-01": {"dcgm_exporter_image": None}})
    result, output = deploy(inventory, "h200-01")
    assert result.returncode != 0
    assert re.search(r"dcgm_exporter_image: missing: @fake/h200-01 has nvidia GPUs", output)
    assert "--> Beginning operation run" not in output, "stopped only after changing things"


def test_basic_auth_without_a_password_is_one_clear_error(tmp_path: Path) -> None:
    result, output = deploy(write_fleet(tmp_path), "monitor-01", password=None)
    assert result.returncode != 0
    assert "set PROMETHEUS_PASSWORD or prometheus_password_file" in output
    assert "--> Beginning operation run" not in output
