"""Monitoring: node exporter on every host, the GPU vendor's exporter on GPU hosts, and on the
`monitoring` hosts Prometheus (Debian) with the scrape config generated from the inventory, the
alert rules from monitoring/rules/ and the dashboards from monitoring/dashboards/.

Nothing reaches the running Prometheus before promtool accepts it: the config, the rules and the
web config are staged in a root-only folder, `promtool check` runs on the host, and only then are
they installed and Prometheus reloaded. A failing check stops the deploy with promtool's message
and leaves the running Prometheus on its old configuration.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import bcrypt
import yaml
from pyinfra import host
from pyinfra.api import deploy
from pyinfra.operations import apt, docker, files, server, systemd
from pyinfra.operations.util import any_changed

from vllm_fleet.deploy.context import DeployError, fail, host_data
from vllm_fleet.deploy.facts import DockerImageId, FileText, MountPoint
from vllm_fleet.errors import FleetError
from vllm_fleet.monitoring import exporters, grafana
from vllm_fleet.monitoring.dashboards import load_dashboards, render_dashboard
from vllm_fleet.monitoring.fleet import FleetHost, fleet_hosts
from vllm_fleet.monitoring.promtool import rule_files
from vllm_fleet.monitoring.scrape import RULES_SUBDIR, SELF_PASSWORD_FILE, render_prometheus_config
from vllm_fleet.serving.inventory import HostData
from vllm_fleet.serving.units import render_template

PROMETHEUS_DIR = "/etc/prometheus"
STAGE_DIR = f"{PROMETHEUS_DIR}/vllm-fleet.staged"
WEB_CONFIG = f"{PROMETHEUS_DIR}/vllm-fleet-web.yml"
PASSWORD_ENV = "PROMETHEUS_PASSWORD"


def this_host() -> FleetHost:
    """The host pyinfra is preparing, as the monitoring code sees it (checked host data)."""
    try:
        (me,) = fleet_hosts([(host.name, host.groups, host_data())])
    except FleetError as err:
        raise DeployError(f"{host.name}: {err}") from None
    return me


def whole_fleet() -> list[FleetHost]:
    """Every host of the inventory (not only those this run changes): the scrape targets."""
    try:
        return fleet_hosts(
            [
                (h.name, h.groups, HostData.from_mapping(h.name, h.data.dict()))
                for h in host.inventory
            ]
        )
    except FleetError as err:
        raise DeployError(f"{host.name}: the inventory: {err}") from None


@deploy("Node exporter")
def install_node_exporter() -> None:
    """Debian's prometheus-node-exporter, reporting the fleet's units and the weights disk."""
    me = this_host()
    apt.packages(
        name="Install prometheus-node-exporter (Debian)",
        packages=["prometheus-node-exporter"],
        update=True,
        cache_time=3600,
    )
    defaults = files.put(
        name="Node exporter arguments (/etc/default/prometheus-node-exporter)",
        src=io.StringIO(exporters.render_node_exporter_defaults(me)),
        dest="/etc/default/prometheus-node-exporter",
        mode="0644",
    )
    if me.serves:
        data_dir = me.settings.vllm_data_dir
        mountpoint = host.get_fact(MountPoint, path=data_dir) or "/"
        files.put(
            name=f"Weights disk for the node exporter ({mountpoint} holds {data_dir})",
            src=io.StringIO(exporters.weights_disk_textfile(data_dir, mountpoint)),
            dest=exporters.WEIGHTS_TEXTFILE,
            mode="0644",
        )
    systemd.service(
        name="Node exporter running and enabled",
        service="prometheus-node-exporter.service",
        running=True,
        enabled=True,
    )
    # The package starts the exporter with Debian's empty ARGS before the file above exists, so
    # a fresh install needs this restart too.
    systemd.service(
        name="Restart the node exporter for its new arguments",
        service="prometheus-node-exporter.service",
        restarted=True,
        _if=defaults.did_change,
    )


@deploy("GPU exporter")
def install_gpu_exporter() -> None:
    """NVIDIA: DCGM exporter; AMD: device metrics exporter; containers pinned by digest."""
    me = this_host()
    try:
        exporter = exporters.gpu_exporter(me, host_data().source("gpu_vendor"))
    except FleetError as err:
        raise DeployError(f"{host.name}: {err}") from None
    if exporter is None:
        host.noop("no GPU exporter: gpu_vendor is not nvidia or amd")
        return
    image = getattr(me.settings, exporter.image_key)
    changes = []
    if host.get_fact(DockerImageId, image=image) is None:
        changes.append(docker.image(name=f"Pull {image}", image=image, present=True))
    if exporter.counters_in_container:
        changes.append(
            files.put(
                name=f"DCGM counters ({exporters.COUNTERS_ON_HOST})",
                src=str(exporters.DCGM_COUNTERS),
                dest=exporters.COUNTERS_ON_HOST,
                mode="0644",
            )
        )
    unit_path = f"/etc/systemd/system/{exporter.unit}.service"
    unit = files.put(
        name=f"Unit {unit_path}",
        src=io.StringIO(exporters.render_exporter_unit(me, exporter)),
        dest=unit_path,
        mode="0644",
    )
    changes.append(unit)
    systemd.daemon_reload(name="Reload systemd units", _if=unit.did_change)
    systemd.service(
        name=f"{exporter.description} running and enabled",
        service=f"{exporter.unit}.service",
        running=True,
        enabled=True,
    )
    systemd.service(
        name=f"Restart the {exporter.description} for its new configuration",
        service=f"{exporter.unit}.service",
        restarted=True,
        _if=any_changed(*changes),
    )


@deploy("Prometheus")
def install_prometheus() -> None:
    """Prometheus (Debian) with the generated config, checked by promtool before it is live."""
    me = this_host()
    settings = me.settings
    apt.packages(
        name="Install Prometheus and promtool (Debian)",
        packages=["prometheus"],
        update=True,
        cache_time=3600,
    )
    files.directory(
        name=f"Staging folder {STAGE_DIR} (root only)",
        path=STAGE_DIR,
        user="root",
        group="root",
        mode="0700",
    )
    staged = [
        files.put(
            name="Stage prometheus.yml (generated from the inventory)",
            src=io.StringIO(render_prometheus_config(whole_fleet(), me)),
            dest=f"{STAGE_DIR}/prometheus.yml",
            mode="0600",
        )
    ]
    files.directory(
        name="Stage the rules folder",
        path=f"{STAGE_DIR}/{RULES_SUBDIR}",
        user="root",
        group="root",
        mode="0700",
    )
    staged += [
        files.put(
            name=f"Stage {path.name}",
            src=str(path),
            dest=f"{STAGE_DIR}/{RULES_SUBDIR}/{path.name}",
            mode="0600",
        )
        for path in rule_files()
    ]
    auth = settings.prometheus_basic_auth_user
    if auth:
        password = _prometheus_password()
        staged.append(
            files.put(
                name="Stage the web config (basic auth, bcrypt)",
                src=io.StringIO(_web_config(auth, password)),
                dest=f"{STAGE_DIR}/web.yml",
                mode="0600",
            )
        )
        staged.append(
            files.put(
                name=f"Prometheus's own scrape password ({SELF_PASSWORD_FILE})",
                src=io.StringIO(password + "\n"),
                dest=SELF_PASSWORD_FILE,
                user="root",
                group="prometheus",
                mode="0640",
                create_remote_dir=False,
            )
        )
    installed = server.shell(
        name="promtool check, then install the staged files",
        commands=[_check_then_install(web=bool(auth))],
        _if=any_changed(*staged),
    )
    defaults = files.put(
        name="Prometheus arguments (/etc/default/prometheus)",
        src=io.StringIO(_prometheus_defaults(me, web=bool(auth))),
        dest="/etc/default/prometheus",
        mode="0644",
    )
    systemd.service(
        name="Prometheus running and enabled",
        service="prometheus.service",
        running=True,
        enabled=True,
    )
    systemd.service(
        name="Restart Prometheus for its new arguments",
        service="prometheus.service",
        restarted=True,
        _if=defaults.did_change,
    )
    systemd.service(
        name="Reload Prometheus for its new configuration",
        service="prometheus.service",
        reloaded=True,
        _if=lambda: installed.did_change() and not defaults.did_change(),
    )


@deploy("Dashboards")
def install_dashboards() -> None:
    """The dashboards as provisioned JSON; Grafana as a container when its image is pinned."""
    me = this_host()
    files.directory(
        name=f"Dashboards folder {grafana.DASHBOARDS_ON_HOST}",
        path=grafana.DASHBOARDS_ON_HOST,
        mode="0755",
    )
    changes = [
        files.put(
            name=f"Dashboard {d.uid}.json",
            src=io.StringIO(render_dashboard(d)),
            dest=f"{grafana.DASHBOARDS_ON_HOST}/{d.uid}.json",
            mode="0644",
        )
        for d in load_dashboards()
    ]
    if me.settings.grafana_image is None:
        host.noop("no Grafana: grafana_image is not set (dashboards installed as files)")
        return
    password = _prometheus_password() if me.settings.prometheus_basic_auth_user else None
    for path, text, mode in grafana.provisioning_files(me, password):
        changes.append(
            files.put(
                name=f"Grafana provisioning {path}",
                src=io.StringIO(text),
                dest=path,
                user=grafana.GRAFANA_UID,
                group=grafana.GRAFANA_UID,
                mode=mode,
            )
        )
    image = me.settings.grafana_image
    if host.get_fact(DockerImageId, image=image) is None:
        changes.append(docker.image(name=f"Pull {image}", image=image, present=True))
    unit = files.put(
        name=f"Unit {grafana.UNIT_PATH}",
        src=io.StringIO(grafana.render_unit(me)),
        dest=grafana.UNIT_PATH,
        mode="0644",
    )
    changes.append(unit)
    systemd.daemon_reload(name="Reload systemd units", _if=unit.did_change)
    systemd.service(
        name="Grafana running and enabled", service="grafana.service", running=True, enabled=True
    )
    systemd.service(
        name="Restart Grafana for its new configuration",
        service="grafana.service",
        restarted=True,
        _if=any_changed(*changes),
    )


def _check_then_install(web: bool) -> str:
    """One shell script: promtool checks the staged files (on failure the staging folder is
    removed, so the next deploy stages and checks again), then they replace the live ones."""
    checks = ["promtool check config prometheus.yml", f"promtool check rules {RULES_SUBDIR}/*.yml"]
    install = [
        f"install -o root -g root -m 0644 prometheus.yml {PROMETHEUS_DIR}/prometheus.yml",
        f"rm -rf {PROMETHEUS_DIR}/{RULES_SUBDIR}",
        f"install -d -o root -g root -m 0755 {PROMETHEUS_DIR}/{RULES_SUBDIR}",
        f"install -o root -g root -m 0644 {RULES_SUBDIR}/*.yml {PROMETHEUS_DIR}/{RULES_SUBDIR}/",
    ]
    if web:
        checks.append("promtool check web-config web.yml")
        install.append(f"install -o root -g prometheus -m 0640 web.yml {WEB_CONFIG}")
    return (
        f"cd {STAGE_DIR} && {{ {' && '.join(checks)}; }} "
        f"|| {{ rm -rf {STAGE_DIR}; exit 1; }}; " + " && ".join(install)
    )


def _prometheus_defaults(me: FleetHost, web: bool) -> str:
    settings = me.settings
    args = [
        f"--web.listen-address={settings.prometheus_listen_address}",
        f"--storage.tsdb.retention.time={settings.prometheus_retention}",
    ]
    if web:
        args.append(f"--web.config.file={WEB_CONFIG}")
    return render_template("prometheus.default.j2", host=me.name, args=args, web_config=web)


def _prometheus_password() -> str:
    """Prometheus's basic-auth password, read on the controller (a file, else the variable)."""
    file = this_host().settings.prometheus_password_file
    if file:
        path = Path(file).expanduser()
        if not path.is_file():
            fail(f"prometheus_password_file: {path} does not exist on the controller")
        value = path.read_text().strip()
    else:
        value = os.environ.get(PASSWORD_ENV, "").strip()
    if not value:
        fail(
            f"prometheus_basic_auth_user is set, so Prometheus needs a password: set "
            f"{PASSWORD_ENV} or prometheus_password_file on the controller"
        )
    return value


def _web_config(user: str, password: str) -> str:
    """basic_auth_users with a bcrypt hash; the host's hash is kept while the password matches
    (a fresh salt on every run would rewrite the file and reload Prometheus each time)."""
    current = host.get_fact(FileText, path=WEB_CONFIG)
    users = (yaml.safe_load(current) or {}).get("basic_auth_users", {}) if current else {}
    hashed = users.get(user) if isinstance(users, dict) else None
    if not (hashed and bcrypt.checkpw(password.encode(), hashed.encode())):
        hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt()).decode()
    return yaml.safe_dump({"basic_auth_users": {user: hashed}})
