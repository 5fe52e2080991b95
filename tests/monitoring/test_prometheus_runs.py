"""The generated configuration in a real Prometheus (Debian's binary, on loopback): it loads the
config, the rule files and the basic-auth web config, refuses requests without the password and
scrapes itself with the password file."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import bcrypt
import httpx
import pytest
import yaml

from vllm_fleet.monitoring import promtool
from vllm_fleet.monitoring.fleet import fleet_hosts
from vllm_fleet.monitoring.scrape import SELF_PASSWORD_FILE, render_prometheus_config

PASSWORD = "s3cret-for-tests"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus not found: run scripts/host-prereqs.sh")
    folder = tmp_path_factory.mktemp("prometheus")
    port = _free_port()
    (monitor,) = fleet_hosts(
        [
            (
                "monitor-01",
                ["monitoring"],
                {
                    "prometheus_listen_address": f"127.0.0.1:{port}",
                    "prometheus_scrape_interval": "1s",
                    "prometheus_basic_auth_user": "ops",
                },
            )
        ]
    )
    config = render_prometheus_config([monitor], monitor)
    (folder / "prometheus.yml").write_text(
        config.replace(SELF_PASSWORD_FILE, str(folder / "password"))
    )
    (folder / "password").write_text(PASSWORD + "\n")
    (folder / "web.yml").write_text(
        yaml.safe_dump(
            {
                "basic_auth_users": {
                    "ops": bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()
                }
            }
        )
    )
    (folder / "rules").mkdir()
    for path in promtool.rule_files():
        shutil.copy(path, folder / "rules" / path.name)
    process = subprocess.Popen(
        [
            binary,
            "--config.file=prometheus.yml",
            f"--web.listen-address=127.0.0.1:{port}",
            "--web.config.file=web.yml",
            f"--storage.tsdb.path={folder / 'data'}",
        ],
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


def _get(url: str, auth: tuple[str, str] | None = ("ops", PASSWORD)) -> httpx.Response:
    deadline = time.monotonic() + 30
    while True:
        try:
            return httpx.get(url, auth=auth, timeout=5)
        except httpx.ConnectError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_requests_without_the_password_are_refused(prometheus: str) -> None:
    assert _get(f"{prometheus}/api/v1/targets", auth=None).status_code == 401
    assert _get(f"{prometheus}/api/v1/targets", auth=("ops", "wrong")).status_code == 401


def test_it_loads_every_rule_and_scrapes_itself(prometheus: str) -> None:
    rules = _get(f"{prometheus}/api/v1/rules").json()["data"]["groups"]
    loaded = {r["name"] for g in rules for r in g["rules"]}
    assert {"VllmEndpointDown", "GpuXidError", "WeightsDiskLow"} <= loaded
    deadline = time.monotonic() + 90  # the machine may be busy: wait for both first scrapes
    while time.monotonic() < deadline:
        targets = {
            t["labels"]["job"]: (t["labels"]["host"], t["health"])
            for t in _get(f"{prometheus}/api/v1/targets").json()["data"]["activeTargets"]
        }
        if (
            len(targets) == 2
            and all(h != "unknown" for _, h in targets.values())
            and targets["prometheus"][1] == "up"
        ):
            break
        time.sleep(0.5)
    # Its own node exporter is a target too (none runs here: it is down).
    assert targets == {"prometheus": ("monitor-01", "up"), "node": ("monitor-01", "down")}
