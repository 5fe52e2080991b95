"""Grafana on a monitoring host: a container pinned by digest (Grafana is not in Debian), with
the Prometheus data source and the dashboards provisioned from files
(https://grafana.com/docs/grafana/latest/administration/provisioning/)."""

from __future__ import annotations

import yaml

from vllm_fleet.monitoring.dashboards import DATASOURCE
from vllm_fleet.monitoring.fleet import FleetHost
from vllm_fleet.monitoring.scrape import local_address
from vllm_fleet.serving.units import render_template

ROOT = "/etc/vllm-fleet/grafana"
DASHBOARDS_ON_HOST = f"{ROOT}/dashboards"
PROVISIONING_ON_HOST = f"{ROOT}/provisioning"
UNIT_PATH = "/etc/systemd/system/grafana.service"
# The grafana user inside Grafana's image (https://grafana.com/docs/grafana/latest/setup-grafana/installation/docker/).
GRAFANA_UID = "472"
IN_CONTAINER = {
    "provisioning": "/etc/grafana/provisioning",
    "dashboards": "/var/lib/vllm-fleet-dashboards",
}
PASSWORD_FILE = "prometheus.password"


def provisioning_files(me: FleetHost, password: str | None) -> list[tuple[str, str, str]]:
    """(path on the host, text, mode) of every provisioning file."""
    settings = me.settings
    source = {
        "name": "Prometheus",
        "type": DATASOURCE["type"],
        "uid": DATASOURCE["uid"],
        "access": "proxy",
        "isDefault": True,
        "url": f"http://{local_address(settings.prometheus_listen_address)}",
    }
    out = []
    if settings.prometheus_basic_auth_user and password:
        source.update(
            basicAuth=True,
            basicAuthUser=settings.prometheus_basic_auth_user,
            secureJsonData={
                "basicAuthPassword": f"$__file{{{IN_CONTAINER['provisioning']}/{PASSWORD_FILE}}}"
            },
        )
        out.append((f"{PROVISIONING_ON_HOST}/{PASSWORD_FILE}", password + "\n", "0400"))
    datasources = {"apiVersion": 1, "datasources": [source]}
    providers = {
        "apiVersion": 1,
        "providers": [
            {
                "name": "vllm-fleet",
                "type": "file",
                "disableDeletion": True,
                "allowUiUpdates": False,
                "options": {"path": IN_CONTAINER["dashboards"]},
            }
        ],
    }
    out += [
        (
            f"{PROVISIONING_ON_HOST}/datasources/vllm-fleet.yaml",
            yaml.safe_dump(datasources, sort_keys=False),
            "0440",
        ),
        (
            f"{PROVISIONING_ON_HOST}/dashboards/vllm-fleet.yaml",
            yaml.safe_dump(providers, sort_keys=False),
            "0444",
        ),
    ]
    return out


def command(me: FleetHost) -> list[str]:
    settings = me.settings
    address, _, port = settings.grafana_listen_address.rpartition(":")
    return [
        settings.docker_bin,
        "run",
        "--rm",
        "--pull=never",
        "--name",
        "grafana",
        "--network",
        "host",
        "-e",
        f"GF_SERVER_HTTP_ADDR={address}",
        "-e",
        f"GF_SERVER_HTTP_PORT={port}",
        "-v",
        f"{PROVISIONING_ON_HOST}:{IN_CONTAINER['provisioning']}:ro",
        "-v",
        f"{DASHBOARDS_ON_HOST}:{IN_CONTAINER['dashboards']}:ro",
        "-v",
        "vllm-fleet-grafana:/var/lib/grafana",
        settings.grafana_image or "",
    ]


def render_unit(me: FleetHost) -> str:
    return render_template(
        "grafana.service.j2", host=me.name, docker=me.settings.docker_bin, exec_start=[command(me)]
    )
