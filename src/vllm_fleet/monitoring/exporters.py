"""What runs on every host so Prometheus can see it: node exporter arguments, the weights-disk
textfile, and the GPU vendors' exporters as containers pinned by digest."""

from __future__ import annotations

from dataclasses import dataclass

from vllm_fleet.errors import ConfigError
from vllm_fleet.monitoring.fleet import FleetHost, monitored_units
from vllm_fleet.paths import MONITORING_DIR
from vllm_fleet.serving.units import render_template

# Debian's prometheus-node-exporter reads *.prom files here (its --collector.textfile.directory
# default, `prometheus-node-exporter --help`).
TEXTFILE_DIR = "/var/lib/prometheus/node-exporter"
WEIGHTS_TEXTFILE = f"{TEXTFILE_DIR}/vllm_fleet_weights_disk.prom"
# DCGM's counters: the exporter's defaults plus the ECC counters the alert rules read.
DCGM_COUNTERS = MONITORING_DIR / "dcgm-counters.csv"


@dataclass(frozen=True)
class Exporter:
    """A GPU vendor's metrics exporter, run as a container under systemd."""

    vendor: str
    unit: str
    description: str
    source: str
    container_port: int
    docker_args: tuple[str, ...]
    image_key: str
    port_key: str
    counters_in_container: str | None = None


EXPORTERS = {
    # https://github.com/NVIDIA/dcgm-exporter (README: docker run --gpus all --cap-add SYS_ADMIN
    # -p 9400:9400; -f selects the counters file).
    "nvidia": Exporter(
        vendor="nvidia",
        unit="dcgm-exporter",
        description="NVIDIA DCGM exporter",
        source="https://github.com/NVIDIA/dcgm-exporter",
        container_port=9400,
        docker_args=("--gpus", "all", "--cap-add", "SYS_ADMIN"),
        image_key="dcgm_exporter_image",
        port_key="dcgm_exporter_port",
        counters_in_container="/etc/dcgm-exporter/vllm-fleet-counters.csv",
    ),
    # https://github.com/ROCm/device-metrics-exporter docs/installation/docker.md
    # (--device=/dev/dri --device=/dev/kfd -p 5000:5000).
    "amd": Exporter(
        vendor="amd",
        unit="amd-device-metrics-exporter",
        description="AMD device metrics exporter",
        source="https://github.com/ROCm/device-metrics-exporter",
        container_port=5000,
        docker_args=("--device=/dev/dri", "--device=/dev/kfd"),
        image_key="amd_metrics_exporter_image",
        port_key="amd_metrics_exporter_port",
    ),
}
COUNTERS_ON_HOST = "/etc/vllm-fleet/dcgm-counters.csv"


def node_exporter_args(host: FleetHost) -> list[str]:
    args = [f"--web.listen-address=:{host.settings.node_exporter_port}"]
    units = monitored_units(host)
    if units:
        # node exporter anchors the regexp itself; "." matching any character is harmless here
        # and keeps backslashes out of an EnvironmentFile.
        args += [
            "--collector.systemd",
            f"--collector.systemd.unit-include={'|'.join(units)}",
            "--collector.systemd.enable-restarts-metrics",
        ]
    return args


def render_node_exporter_defaults(host: FleetHost) -> str:
    return render_template(
        "node-exporter.default.j2", host=host.name, args=node_exporter_args(host)
    )


def weights_disk_textfile(path: str, mountpoint: str) -> str:
    """The series the WeightsDiskLow rule joins on: which filesystem holds the weights."""
    return (
        "# HELP vllm_fleet_weights_disk_info The filesystem that holds vllm_data_dir.\n"
        "# TYPE vllm_fleet_weights_disk_info gauge\n"
        f'vllm_fleet_weights_disk_info{{mountpoint="{_escape(mountpoint)}",'
        f'path="{_escape(path)}"}} 1\n'
    )


def gpu_exporter(host: FleetHost, source: str) -> Exporter | None:
    """The exporter the host's GPU vendor needs (None for none); its image must be pinned."""
    exporter = EXPORTERS.get(host.settings.gpu_vendor or "none")
    if exporter and getattr(host.settings, exporter.image_key) is None:
        raise ConfigError(
            source,
            exporter.image_key,
            f"missing: {host.name} has {exporter.vendor} GPUs, so monitoring runs "
            f"the {exporter.description} ({exporter.source}); set it to that "
            "image pinned by digest, NAME[:TAG]@sha256:<digest>",
        )
    return exporter


def exporter_command(host: FleetHost, exporter: Exporter) -> list[str]:
    settings = host.settings
    argv = [
        settings.docker_bin,
        "run",
        "--rm",
        "--pull=never",
        "--name",
        exporter.unit,
        *exporter.docker_args,
        "-p",
        f"{getattr(settings, exporter.port_key)}:{exporter.container_port}",
    ]
    image = getattr(settings, exporter.image_key)
    if exporter.counters_in_container:
        argv += [
            "-v",
            f"{COUNTERS_ON_HOST}:{exporter.counters_in_container}:ro",
            image,
            "-f",
            exporter.counters_in_container,
        ]
    else:
        argv.append(image)
    return argv


def render_exporter_unit(host: FleetHost, exporter: Exporter) -> str:
    return render_template(
        "gpu-exporter.service.j2",
        host=host.name,
        exporter=exporter,
        docker=host.settings.docker_bin,
        exec_start=[exporter_command(host, exporter)],
    )


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
