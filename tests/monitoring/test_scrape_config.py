"""The Prometheus config generated from an inventory, and what lands on each host for it."""

from __future__ import annotations

import shutil
from pathlib import Path

import bcrypt
import pytest
import yaml

from vllm_fleet.errors import ConfigError
from vllm_fleet.monitoring import exporters, promtool
from vllm_fleet.monitoring.fleet import FleetHost, fleet_hosts
from vllm_fleet.monitoring.scrape import (
    render_prometheus_config,
    scrape_targets,
)
from vllm_fleet.serving.inventory import load_inventory

DIGEST = "sha256:" + "0123456789abcdef" * 4
SERVING = {"gpu_count": 8, "model": "kimi-k2-thinking", "profile": "latency"}
FLEET = [
    (
        "h200-01",
        ["nvidia_h200"],
        {
            **SERVING,
            "gpu_vendor": "nvidia",
            "image_target": "cuda",
            "dcgm_exporter_image": f"mirror.example/dcgm-exporter@{DIGEST}",
        },
    ),
    (
        "mi300x-01",
        ["amd_mi300x"],
        {
            **SERVING,
            "gpu_vendor": "amd",
            "image_target": "rocm",
            "vllm_port": 8001,
            "scrape_address": "10.0.0.12",
            "amd_metrics_exporter_image": f"mirror.example/device-metrics-exporter:v1.4.0@{DIGEST}",
        },
    ),
    ("router-01", ["routers"], {"monitored_units": ["vllm-router"]}),
    ("monitor-01", ["monitoring"], {"prometheus_retention": "30d"}),
]


def _fleet(changes: dict | None = None) -> list[FleetHost]:
    hosts = [
        (name, groups, {**data, **(changes or {}).get(name, {})}) for name, groups, data in FLEET
    ]
    return fleet_hosts(hosts)


def _check_config(tmp_path: Path, text: str) -> str:
    (tmp_path / "prometheus.yml").write_text(text)
    (tmp_path / "rules").mkdir()
    for path in promtool.rule_files():
        shutil.copy(path, tmp_path / "rules" / path.name)
    return promtool.run("check", "config", "prometheus.yml", cwd=tmp_path)


def test_one_job_per_kind_one_target_per_host(tmp_path: Path) -> None:
    fleet = _fleet()
    text = render_prometheus_config(fleet, fleet[-1])
    config = yaml.safe_load(text)
    jobs = {
        job["job_name"]: [(t["labels"]["host"], t["targets"][0]) for t in job["static_configs"]]
        for job in config["scrape_configs"]
    }
    assert jobs == {
        "vllm": [("h200-01", "h200-01:8000"), ("mi300x-01", "10.0.0.12:8001")],
        "vllm-router": [("router-01", "router-01:8080")],  # HAProxy's /metrics
        "node": [
            ("h200-01", "h200-01:9100"),
            ("mi300x-01", "10.0.0.12:9100"),
            ("router-01", "router-01:9100"),
            ("monitor-01", "monitor-01:9100"),
        ],
        "dcgm": [("h200-01", "h200-01:9400")],
        "amd-gpu": [("mi300x-01", "10.0.0.12:5000")],
        "prometheus": [("monitor-01", "127.0.0.1:9090")],
    }
    assert config["rule_files"] == ["rules/*.yml"]
    assert "SUCCESS" in _check_config(tmp_path, text)


def test_scrape_targets_lists_what_the_monitoring_host_scrapes() -> None:
    assert ("vllm-router", "router-01", "router-01:8080") in scrape_targets(_fleet())


def test_basic_auth_scrapes_itself_with_a_password_file(tmp_path: Path) -> None:
    fleet = _fleet(
        {
            "monitor-01": {
                "prometheus_basic_auth_user": "ops",
                "prometheus_listen_address": "0.0.0.0:9090",
            }
        }
    )
    config = yaml.safe_load(render_prometheus_config(fleet, fleet[-1]))
    (self_job,) = [j for j in config["scrape_configs"] if j["job_name"] == "prometheus"]
    assert self_job["basic_auth"]["username"] == "ops"
    assert set(self_job["basic_auth"]) == {"username", "password_file"}
    assert self_job["static_configs"][0]["targets"] == ["127.0.0.1:9090"]


def test_bad_monitoring_data_is_one_clear_error() -> None:
    with pytest.raises(ConfigError, match="prometheus_retention: '2 weeks' is not a Prometheus"):
        _fleet({"monitor-01": {"prometheus_retention": "2 weeks"}})
    with pytest.raises(ConfigError, match=r"dcgm_exporter_image: .* is not pinned by digest"):
        _fleet({"h200-01": {"dcgm_exporter_image": "nvcr.io/nvidia/k8s/dcgm-exporter:4.4.1"}})
    with pytest.raises(ConfigError, match="prometheus_listen_address: '9090' is not HOST:PORT"):
        _fleet({"monitor-01": {"prometheus_listen_address": "9090"}})


def test_a_gpu_host_without_its_exporter_image_is_refused() -> None:
    fleet = _fleet({"h200-01": {"dcgm_exporter_image": None}})
    with pytest.raises(
        ConfigError,
        match=r"group_data/nvidia_h200.py: dcgm_exporter_image: "
        r"missing: h200-01 has nvidia GPUs",
    ):
        exporters.gpu_exporter(fleet[0], "group_data/nvidia_h200.py")


def test_exporter_units_run_the_pinned_image_without_pulling() -> None:
    fleet = _fleet()
    nvidia = exporters.gpu_exporter(fleet[0], "x")
    unit = exporters.render_exporter_unit(fleet[0], nvidia)
    assert f"mirror.example/dcgm-exporter@{DIGEST}" in unit
    assert "--pull=never" in unit and "--gpus all" in unit and "-p 9400:9400" in unit
    assert "-f /etc/dcgm-exporter/vllm-fleet-counters.csv" in unit
    amd = exporters.gpu_exporter(fleet[1], "x")
    unit = exporters.render_exporter_unit(fleet[1], amd)
    assert "--device=/dev/dri --device=/dev/kfd" in unit and "-p 5000:5000" in unit
    assert exporters.gpu_exporter(fleet[2], "x") is None


def test_dcgm_counters_enable_every_dcgm_field_the_rules_read() -> None:
    enabled = {
        line.split(",")[0].strip()
        for line in exporters.DCGM_COUNTERS.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    from vllm_fleet.monitoring.names import all_expressions

    used = {
        word
        for expr in all_expressions()
        for word in expr.replace("(", " ").split()
        if word.startswith("DCGM_FI_")
    }
    used = {name.split("[")[0].split("{")[0] for name in used}
    assert used and used <= enabled


def test_node_exporter_reports_the_hosts_units_and_restarts() -> None:
    fleet = _fleet()
    args = exporters.node_exporter_args(fleet[0])
    assert "--collector.systemd.unit-include=vllm-serve.service" in args
    assert "--collector.systemd.enable-restarts-metrics" in args
    assert "--collector.systemd.unit-include=vllm-router.service" in exporters.node_exporter_args(
        fleet[2]
    )
    assert exporters.node_exporter_args(fleet[3]) == ["--web.listen-address=:9100"]


def test_weights_disk_textfile_is_valid_exposition() -> None:
    text = exporters.weights_disk_textfile("/data/vllm-fleet", "/data")
    assert 'vllm_fleet_weights_disk_info{mountpoint="/data",path="/data/vllm-fleet"} 1' in text


def test_web_config_with_a_bcrypt_hash_passes_promtool(tmp_path: Path) -> None:
    hashed = bcrypt.hashpw(b"s3cret", bcrypt.gensalt()).decode()
    web = tmp_path / "web.yml"
    web.write_text(yaml.safe_dump({"basic_auth_users": {"ops": hashed}}))
    assert "SUCCESS" in promtool.run("check", "web-config", str(web))


def test_the_prod_inventory_has_valid_monitoring_data() -> None:
    inventory = Path(__file__).parents[2] / "inventory" / "prod.py"
    hosts = load_inventory(inventory)
    fleet = fleet_hosts([(h.name, [], h) for h in hosts])
    assert {h.name for h in fleet} >= {"h200-01.example.internal"}
