"""The host-data schema: every key `invoke plan` or a deploy reads, its type, default and why.

Host data is pyinfra's: a host's own dict in the inventory, ``group_data/<group>.py``,
``group_data/all.py`` and ``--data`` overrides, merged by pyinfra. vllm-fleet reads it only
through ``HostSettings`` below, so a key has one type, one default and one explanation, and the
deploy works with any inventory: ``group_data/all.py`` holds only what a site changes.

``settings_for(host)`` checks a host's data before anything is changed: an unknown key (with the
nearest valid name), a value of the wrong type, or one outside what is valid is one
``ConfigError`` naming the file that set it. pyinfra's own keys (``ssh_*``, ``_sudo`` ...) pass by.
"""

from __future__ import annotations

import difflib
import types
import typing
from dataclasses import dataclass, field, fields
from functools import cache
from typing import Any

from vllm_fleet.errors import ConfigError
from vllm_fleet.hostchecks import (
    Check,
    at_least,
    controller_file,
    controller_folder,
    each,
    host_path,
    host_port,
    image_reference,
    ip_address,
    log_size,
    one_of,
    package_name,
    per_flavour,
    pinned_by_digest,
    plain_name,
    prometheus_duration,
    secret_file,
    tcp_port,
    unit_name,
    url,
    url_or_empty,
    user_name,
)
from vllm_fleet.serving.inventory import HostData
from vllm_fleet.serving.models import GPU_VENDORS

RUNTIMES = ("container", "venv")
# What a host that sets `model` must also set (group data usually does).
SERVING_KEYS = ("gpu_vendor", "gpu_count", "model", "profile", "image_target")
DOCKER_SOURCES = ("distro", "docker")
# vllm-router 0.1.17's --policy choices (`vllm-router --help`, PyPI vllm-router).
ROUTER_POLICIES = (
    "cache_aware",
    "round_robin",
    "random",
    "power_of_two",
    "consistent_hash",
    "sticky_least_loaded",
    "kv_aware",
)


def key(doc: str, default: Any, *, check: Check | None = None) -> Any:
    """Declare a host-data key: ``doc`` says why it exists and what it changes."""
    meta = {"doc": doc, "check": check}
    if isinstance(default, list | dict):
        frozen = default
        return field(default_factory=lambda: type(frozen)(frozen), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True, kw_only=True)
class HostSettings:
    """One host's data, typed and checked. Field order is the order of the docs."""

    # --- What the host serves (a site sets these per group) ---
    # A host that sets `model` serves it, and then needs every key of SERVING_KEYS. A host
    # without `model` serves nothing (a router, cache or monitoring host).
    model: str | None = key(
        "The model file (models/<model>.yaml) the host serves. Unset: the host serves no model.",
        None,
        check=plain_name,
    )
    gpu_vendor: str | None = key(
        "Which GPU stack the host gets: drivers, container device "
        "access and the model file's vendor layer. none = CPU only.",
        None,
        check=one_of(*GPU_VENDORS),
    )
    gpu_count: int | None = key(
        "GPUs on the host; the profile's parallelism must fit in them.", None, check=at_least(0)
    )
    profile: str | None = key("The model file's serving profile (latency, throughput, ...).", None)
    image_target: str | None = key(
        "The images/matrix.yaml target the host's image is built "
        "from: its vLLM version, container paths and manifest.",
        None,
    )
    image: str | None = key(
        "The image to run, best pinned by digest (name@sha256:...). Unset: "
        "the tag the image_target's manifest recorded.",
        None,
        check=image_reference,
    )
    image_registry: str | None = key(
        "The registry (name:port) hosts pull from. With no `image`, "
        "a host runs the repo digest `invoke push` recorded there "
        "for its image_target.",
        None,
    )
    image_registry_push_address: str | None = key(
        "The same registry as the controller reached it when pushing (e.g. a loopback port), "
        "when that differs from image_registry: a digest names content under both.",
        None,
    )
    image_registry_ca: str | None = key(
        "A private CA (file on the controller) for "
        "image_registry, installed as /etc/docker/certs.d/"
        "<image_registry>/ca.crt on the hosts.",
        None,
    )
    runtime: str = key(
        "How vLLM runs: a container under systemd, or a virtualenv under systemd.",
        "container",
        check=one_of(*RUNTIMES),
    )
    serve_flags: dict = key(
        "Extra `vllm serve` flags for this host, over the model file's "
        "(name without dashes -> value; true = bare flag, false = removed).",
        {},
    )
    serve_env: dict = key("Extra environment for this host's server, over the model file's.", {})

    # --- The service ---
    vllm_port: int = key(
        "The OpenAI-compatible HTTP port (vllm serve --port; host network).", 8000, check=tcp_port
    )
    allow_system_port: bool = key(
        "Let vllm_port be a well-known system port (below 1024); off, "
        "so a typo such as 22 or 80 cannot take a system service's "
        "port.",
        False,
    )
    vllm_url: str | None = key(
        "Where the controller reaches the server for the ready gate. "
        "Unset: http://<host name>:<vllm_port>.",
        None,
        check=url,
    )
    vllm_data_dir: str = key(
        "Host folder for the Hugging Face cache (weights) and vLLM's compile "
        "cache, mounted into the container: a restart neither downloads nor "
        "recompiles.",
        "/var/lib/vllm-fleet",
        check=host_path,
    )
    vllm_secrets_dir: str = key(
        "Host folder (root only) for the credential files the deploy writes.",
        "/etc/vllm-fleet",
        check=host_path,
    )
    vllm_unit_name: str = key(
        "The systemd unit (/etc/systemd/system/<name>.service) and the container's name.",
        "vllm-serve",
        check=unit_name,
    )
    vllm_start_timeout_s: int = key(
        "systemd's start budget (Type=exec: covers ExecStartPre, e.g. pulling a ~20 GB image).",
        3600,
        check=at_least(1),
    )
    vllm_stop_grace_s: int = key(
        "Seconds a stop or restart lets in-flight requests finish "
        "after SIGTERM (vllm serve --shutdown-timeout where the image's "
        "vLLM has it); SIGKILL comes a little later.",
        120,
        check=at_least(1),
    )
    vllm_restart_delay_s: int = key(
        "Pause before systemd restarts a server that exited without "
        "being asked to (Restart=always).",
        30,
        check=at_least(1),
    )
    vllm_start_limit_burst: int = key(
        "Starts allowed within vllm_start_limit_interval_s before "
        "systemd gives up and marks the unit failed, so a crash "
        "loop shows as failed instead of restarting forever.",
        5,
        check=at_least(1),
    )
    vllm_start_limit_interval_s: int = key(
        "The window of vllm_start_limit_burst (StartLimit"
        "IntervalSec); must exceed burst x restart delay to "
        "catch a quick crash loop.",
        1800,
        check=at_least(1),
    )
    health_watchdog: bool = key(
        "A systemd timer probes /health and kills a server that fails or "
        "hangs health_watchdog_failures probes in a row (systemd then "
        "restarts it): vLLM can stay alive with a dead engine.",
        True,
    )
    health_watchdog_interval_s: int = key(
        "Seconds between two /health probes of the watchdog.", 30, check=at_least(1)
    )
    health_watchdog_failures: int = key(
        "Consecutive failed or hung probes before the watchdog kills the server.",
        3,
        check=at_least(1),
    )
    health_watchdog_timeout_s: int = key(
        "Seconds one /health probe may take before it counts as hung.", 10, check=at_least(1)
    )
    image_pull: bool = key(
        "Pull the image before each start (ExecStartPre) and in the deploy. "
        "False: the deploy only checks the image is on the host (a site that loads it itself).",
        True,
    )
    docker_bin: str = key(
        "The docker client on the host (docker.io and docker-ce both install it here).",
        "/usr/bin/docker",
        check=host_path,
    )
    vllm_venv_dir: str = key(
        "runtime = venv: the virtualenv that holds vLLM (bin/vllm is ExecStart).",
        "/opt/vllm-fleet/venv",
        check=host_path,
    )
    vllm_service_user: str = key(
        "runtime = venv: the dedicated system account the server runs "
        "as (in the video and render groups on GPU hosts); it owns "
        "the data folder and can read the API key file.",
        "vllm",
        check=user_name,
    )
    allow_unvalidated: bool = key(
        "Deploy even when no image manifest can check the flags and "
        "environment (a typo then reaches the host); off by default, "
        "given once with --data allow_unvalidated=true.",
        False,
    )
    image_manifest_dir: str | None = key(
        "Where image manifests (<target>.json) are read. Unset: build/images of this checkout.",
        None,
        check=controller_folder,
    )

    # --- Credentials: files on the controller; unset = the controller's environment ---
    hf_token_file: str | None = key(
        "File on the controller holding the HF token (else HF_TOKEN); mode 0600 or stricter.",
        None,
        check=secret_file,
    )
    vllm_api_key_file: str | None = key(
        "File on the controller holding the API key (else VLLM_API_KEY); mode 0600 or stricter.",
        None,
        check=secret_file,
    )

    # --- Container engine (deploy/container_engine.py) ---
    docker_source: str = key(
        "Where Docker comes from: the OS's docker.io, or Docker's own apt "
        "repository (docker-ce) for a newer engine.",
        "distro",
        check=one_of(*DOCKER_SOURCES),
    )
    docker_repo_url: str = key(
        "Docker's apt repository (docker_source = docker).",
        "https://download.docker.com/linux",
        check=url,
    )
    docker_log_max_size: str = key(
        "json-file log rotation size per container file: vLLM logs a line per request batch.",
        "100m",
        check=log_size,
    )
    docker_log_max_file: int = key("json-file log files kept per container.", 5, check=at_least(1))

    # --- Weights (deploy/weights.py) ---
    hf_endpoint: str = key(
        "The Hub the host downloads from (HF_ENDPOINT): huggingface.co or a site mirror.",
        "https://huggingface.co",
        check=url,
    )
    weights_free_space_margin: float = key(
        "Free space kept beyond the model's size when checking "
        "the data disk before a download (0.05 = 5%).",
        0.05,
        check=at_least(0),
    )

    # --- Ready gate (deploy/ready.py) ---
    ready_timeout_s: int = key(
        "How long the deploy waits for /health after a (re)start; a cold "
        "Kimi-K2 load takes 10-30 minutes.",
        3600,
        check=at_least(1),
    )
    ready_smoke: bool = key(
        "Once /health answers, run the smoke checks before calling the host done.", True
    )

    # --- Rolling changes (deploy/service.py, `invoke rollout`): docs/rolling-changes.md ---
    max_unavailable: int = key(
        "Serving hosts of one pool (the hosts serving one model) that may be out at once: "
        "a deploy refuses to restart more together, and `invoke rollout` drains and "
        "restarts this many at a time.",
        1,
        check=at_least(1),
    )
    allow_pool_down: bool = key(
        "Let max_unavailable reach the pool's size, so every host of the pool may restart "
        "together (a pool that has no clients yet).",
        False,
    )
    drain_timeout_s: int = key(
        "How long `invoke rollout` waits, once a host is out of the router, for its "
        "in-flight requests to finish before restarting it (vLLM's --shutdown-timeout "
        "still lets the rest finish).",
        300,
        check=at_least(1),
    )
    state_dir: str = key(
        "Where the host records what it runs and what it ran before (state.json, the two "
        "units), so a rollback needs nothing from the controller.",
        "/var/lib/vllm-fleet/state",
        check=host_path,
    )

    # --- Router (deploy/router.py): hosts in the `routers` group; docs/router.md ---
    worker_url: str | None = key(
        "Where routers reach this host's server. Unset: http://<host name>:<vllm_port>.", None
    )
    router_pool: str | None = key(
        "The inventory group whose serving hosts this router fronts. "
        "Unset: every host of the inventory that serves a model.",
        None,
    )
    router_url: str | None = key(
        "The router's client address (the one URL clients use). Unset: "
        "http://<host name>:<router_port>.",
        None,
    )
    router_bind: str = key("Address HAProxy listens on for clients.", "0.0.0.0", check=ip_address)
    router_port: int = key(
        "Client port: HAProxy, which forwards only the API routes.", 8080, check=tcp_port
    )
    router_backend_port: int = key(
        "vllm-router's own port, bound to 127.0.0.1: its admin "
        "routes are reachable only on the router host.",
        30000,
        check=tcp_port,
    )
    router_metrics_port: int = key(
        "vllm-router's Prometheus port (127.0.0.1); HAProxy serves it as /metrics.",
        29000,
        check=tcp_port,
    )
    router_policy: str = key(
        "vllm-router --policy: cache_aware routes repeated prompt prefixes "
        "to the replica that has them cached.",
        "cache_aware",
        check=one_of(*ROUTER_POLICIES),
    )
    router_health_interval_s: int = key(
        "Seconds between the router's /health probes of each worker.", 4, check=at_least(1)
    )
    router_health_failures: int = key(
        "Failed probes before a worker leaves rotation; "
        "interval x failures + timeout bounds the time a dead "
        "host stays in (default 15 s).",
        3,
        check=at_least(1),
    )
    router_health_timeout_s: int = key(
        "Seconds a /health probe may take before it counts as "
        "failed (a hung host, not only a refused connection).",
        3,
        check=at_least(1),
    )
    router_version: str = key("The pinned PyPI vllm-router release.", "0.1.17", check=plain_name)
    router_venv_dir: str = key(
        "The virtualenv vllm-router is installed into.", "/opt/vllm-fleet/router", check=host_path
    )
    router_unit_name: str = key(
        "The router's systemd unit; <name>-workers is the unit that "
        "adds each worker once its /health answers.",
        "vllm-router",
    )
    router_ready_timeout_s: int = key(
        "How long the router deploy waits for the client address's /health after a change.",
        120,
        check=at_least(1),
    )
    router_drain: bool = key(
        "On a serving host: routers stop sending it new requests "
        "(in-flight ones finish); see docs/runbooks/router-hosts.md.",
        False,
    )

    # --- Hub cache (deploy/hub_cache.py): hosts of the `hub_cache` group; docs/hub-cache.md ---
    hub_cache_group: str = key(
        "The inventory group whose cache this serving host downloads weights through, when "
        "the group is in the inventory (else straight from hf_endpoint).",
        "hub_cache",
        check=plain_name,
    )
    hub_cache_dir: str | None = key(
        "On a cache host: the data-disk folder olah keeps the cached files in (required).",
        None,
        check=host_path,
    )
    hub_cache_url: str | None = key(
        "Where serving hosts reach this cache. Unset: http://<host name>:<hub_cache_port>.",
        None,
        check=url,
    )
    hub_cache_bind: str = key("Address olah listens on.", "0.0.0.0", check=ip_address)
    hub_cache_port: int = key("olah's port (its own default).", 8090, check=tcp_port)
    hub_cache_offline: bool = key(
        "Serve only what is on the cache's disk, never asking hf_endpoint (an air-gapped "
        "site; docs/runbooks/air-gapped-weights.md).",
        False,
    )
    hub_cache_version: str = key("The pinned PyPI olah release.", "0.5.4", check=plain_name)
    hub_cache_venv_dir: str = key(
        "The virtualenv olah is installed into.", "/opt/vllm-fleet/hub-cache", check=host_path
    )
    hub_cache_unit_name: str = key("The cache's systemd unit.", "vllm-hub-cache", check=unit_name)
    hub_cache_ready_timeout_s: int = key(
        "How long the deploy waits for the cache to answer after a (re)start.",
        120,
        check=at_least(1),
    )

    # --- GPU drivers (deploy/drivers.py) ---
    reboot: bool = key(
        "Reboot a host when a driver change needs it (else report and stop "
        "short). Usually given once: --data reboot=true.",
        False,
    )
    driver_distros: dict = key(
        "Ubuntu releases (VERSION_ID) the drivers are installed on -> the vendors' repository "
        "names for them.",
        {
            "22.04": {"cuda": "ubuntu2204", "codename": "jammy"},
            "24.04": {"cuda": "ubuntu2404", "codename": "noble"},
        },
    )
    nvidia_driver_branch: str = key(
        "The pinned NVIDIA driver branch; {branch} in package names is replaced by it.",
        "580",
        check=plain_name,
    )
    nvidia_cuda_repo_url: str = key(
        "NVIDIA's CUDA network repository.",
        "https://developer.download.nvidia.com/compute/cuda/repos",
        check=url,
    )
    nvidia_cuda_keyring_deb: str = key(
        "The keyring package of the CUDA repository.",
        "cuda-keyring_1.1-1_all.deb",
        check=plain_name,
    )
    nvidia_kernel_modules: str = key(
        "NVIDIA kernel module flavour: open (NVIDIA's recommendation "
        "for Hopper since driver 560; https://docs.nvidia.com/datacenter/tesla/"
        "driver-installation-guide/kernel-modules.html) or proprietary.",
        "open",
        check=one_of("open", "proprietary"),
    )
    nvidia_driver_packages: dict = key(
        "The NVIDIA driver packages of the CUDA repository per kernel module flavour (NVIDIA "
        "Driver Installation Guide, Ubuntu: nvidia-open or cuda-drivers).",
        {"open": ["nvidia-open-{branch}"], "proprietary": ["cuda-drivers-{branch}"]},
        check=per_flavour(each(package_name)),
    )
    nvidia_driver_pinning: list[str] = key(
        "NVIDIA's version-locking package, installed before the driver so `apt upgrade` stays on "
        'the branch (Driver Installation Guide, "Version locking": https://docs.nvidia.com/'
        "datacenter/tesla/driver-installation-guide/version-locking.html).",
        ["nvidia-driver-pinning-{branch}"],
        check=each(package_name),
    )
    nvidia_nvswitch: bool = key(
        "An NVSwitch board (HGX H100/H200 8-GPU): Fabric Manager is "
        "required, or CUDA fails with error 802.",
        False,
    )
    nvidia_nvswitch_packages: list[str] = key(
        "Fabric Manager and NSCQ (nvidia-smi reports the switches through it).",
        ["nvidia-fabricmanager-{branch}", "libnvidia-nscq-{branch}"],
        check=each(package_name),
    )
    nvidia_toolkit_repo_url: str = key(
        "The NVIDIA Container Toolkit repository.",
        "https://nvidia.github.io/libnvidia-container",
        check=url,
    )
    nvidia_toolkit_packages: list[str] = key(
        "The NVIDIA Container Toolkit packages.",
        ["nvidia-container-toolkit"],
        check=each(package_name),
    )
    rocm_version: str = key(
        "The ROCm repository release (repo.radeon.com/rocm/apt/<version>) "
        "the host's amd-smi comes from.",
        "7.2",
        check=plain_name,
    )
    amdgpu_repo_version: str = key(
        "The amdgpu kernel driver release (repo.radeon.com/amdgpu/"
        "<version>); must be paired with the image's ROCm in AMD's "
        "matrix (src/vllm_fleet/serving/amdgpu-rocm.yaml).",
        "30.30",
        check=plain_name,
    )
    amd_unverified_dcp: bool = key(
        "Allow decode context parallel (the throughput profile) on "
        "gpu_vendor amd before a gsm8k run on MI300X has passed the "
        "gate: the usage guide has no DCP on AMD.",
        False,
    )
    rocm_repo_url: str = key("AMD's package server.", "https://repo.radeon.com", check=url)
    rocm_driver_packages: list[str] = key(
        "The amdgpu driver packages.", ["amdgpu-dkms", "amd-smi-lib"], check=each(package_name)
    )
    gpu_deep_checks: bool = key(
        "Run the heavy GPU admission checks before the service starts: "
        "dcgmi diag -r 2 (NVIDIA) and all_reduce_perf from nccl-tests "
        "or rccl-tests (minutes; a busy GPU fails them).",
        False,
    )
    all_reduce_perf: str = key(
        "The all_reduce_perf binary of nccl-tests / rccl-tests on the host (gpu_deep_checks).",
        "/usr/local/bin/all_reduce_perf",
        check=host_path,
    )
    amd_gpu_users: list[str] = key(
        "Accounts that use the GPUs outside containers (render and video groups); root needs none.",
        [],
        check=each(user_name),
    )

    # --- Monitoring (deploy/monitoring.py): every host is scraped, `monitoring` hosts scrape ---
    scrape_address: str | None = key(
        "The address the monitoring host scrapes this host at. Unset: its inventory name.", None
    )
    node_exporter_port: int = key(
        "prometheus-node-exporter's port on every host (Debian's default, 9100).",
        9100,
        check=tcp_port,
    )
    monitored_units: list[str] = key(
        "systemd units besides the vLLM unit whose state and "
        "restarts the node exporter reports (e.g. a router's).",
        [],
    )
    dcgm_exporter_image: str | None = key(
        "NVIDIA hosts: the DCGM exporter image, pinned by "
        "digest (a mirror of nvcr.io/nvidia/k8s/dcgm-exporter)."
        " Required to monitor an NVIDIA host.",
        None,
        check=pinned_by_digest,
    )
    dcgm_exporter_port: int = key(
        "The DCGM exporter's port (its default, 9400).", 9400, check=tcp_port
    )
    amd_metrics_exporter_image: str | None = key(
        "AMD hosts: AMD's device metrics exporter image,"
        " pinned by digest (a mirror of "
        "rocm/device-metrics-exporter). Required to "
        "monitor an AMD host.",
        None,
        check=pinned_by_digest,
    )
    amd_metrics_exporter_port: int = key(
        "AMD's device metrics exporter port (its default, 5000).", 5000, check=tcp_port
    )
    prometheus_listen_address: str = key(
        "Where Prometheus answers (host:port). Loopback unless "
        "the site opens it, then best with basic auth.",
        "127.0.0.1:9090",
        check=host_port,
    )
    prometheus_retention: str = key(
        "How long Prometheus keeps samples (--storage.tsdb.retention.time).",
        "15d",
        check=prometheus_duration,
    )
    prometheus_scrape_interval: str = key(
        "How often every target is scraped (and rules evaluated).", "15s", check=prometheus_duration
    )
    prometheus_basic_auth_user: str | None = key(
        "Set: Prometheus asks for this user and the "
        "password from PROMETHEUS_PASSWORD or "
        "prometheus_password_file (bcrypt on the host).",
        None,
    )
    prometheus_password_file: str | None = key(
        "File on the controller holding Prometheus's "
        "basic-auth password (else PROMETHEUS_PASSWORD).",
        None,
        check=secret_file,
    )
    grafana_image: str | None = key(
        "Monitoring hosts: Grafana's image, pinned by digest (Grafana"
        " is not in Debian). Unset: the dashboards are installed as "
        "files only.",
        None,
        check=pinned_by_digest,
    )
    grafana_listen_address: str = key(
        "Where Grafana answers (host:port).", "127.0.0.1:3000", check=host_port
    )

    # --- Site inputs for runtime = venv (copied to the host before pip runs) ---
    site_ca_bundle: str | None = key(
        "A TLS-re-signing proxy's CA bundle, on the controller.", None, check=controller_file
    )
    site_wheelhouse: str | None = key(
        "A folder of wheels pip may install from, on the controller.", None, check=controller_folder
    )
    site_pip_index_url: str = key("A PyPI mirror (empty = PyPI).", "", check=url_or_empty)


def settings_for(host: HostData) -> HostSettings:
    """``host``'s data as HostSettings; ConfigError (file, key, what is valid) on any mistake."""
    schema = _schema()
    for name in host.data:
        if name not in schema and not _pyinfras_own(name):
            raise ConfigError(host.source(name), name, _unknown(name))
    values: dict[str, Any] = {}
    for name, (hint, check) in schema.items():
        if name not in host.data:
            continue
        value = host.data[name]
        if not _matches(value, hint):
            raise ConfigError(
                host.source(name),
                name,
                f"expected {_describe(hint)}, got {type(value).__name__} {value!r}",
            )
        problem = check(value) if check and value is not None else None
        if problem:
            raise ConfigError(host.source(name), name, problem)
        values[name] = value
    return HostSettings(**values)


def require_serving_keys(host: HostData, settings: HostSettings) -> None:
    """A host that serves a model must say how: every key of SERVING_KEYS set."""
    for name in SERVING_KEYS:
        if getattr(settings, name) is None:
            raise ConfigError(
                host.source(name),
                name,
                f"missing: host {host.name} serves "
                f"model {settings.model!r}, so it needs {', '.join(SERVING_KEYS)}",
            )


def documented_keys() -> dict[str, str]:
    """Every key and its one-line reason, in declaration order (for docs and `invoke plan`)."""
    return {f.name: f.metadata["doc"] for f in fields(HostSettings)}


@cache
def _schema() -> dict[str, tuple[Any, Check | None]]:
    hints = typing.get_type_hints(HostSettings)
    return {f.name: (hints[f.name], f.metadata["check"]) for f in fields(HostSettings)}


@cache
def _pyinfra_keys() -> frozenset[str]:
    """Keys pyinfra itself reads from host data: its connectors' and its global arguments."""
    from pyinfra.api.arguments import all_global_arguments
    from pyinfra.api.connectors import get_all_connectors

    names = {name for name, _ in all_global_arguments()}
    for connector in get_all_connectors().values():
        names.update(getattr(connector, "data_meta", {}))
    return frozenset(names)


def _pyinfras_own(name: str) -> bool:
    return name in _pyinfra_keys()


def _unknown(name: str) -> str:
    close = difflib.get_close_matches(name, list(_schema()), n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return (
        f"unknown host data key; {hint}every key vllm-fleet reads is declared in "
        "src/vllm_fleet/hostdata.py (HostSettings)"
    )


def _matches(value: Any, hint: Any) -> bool:
    """Whether ``value`` fits the type annotation ``hint`` (bool is never a number here)."""
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        return any(_matches(value, arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if isinstance(value, bool) and hint is not bool:
        return False
    if hint is float:
        return isinstance(value, int | float)
    if origin is list:
        (item,) = typing.get_args(hint)
        return isinstance(value, list) and all(_matches(v, item) for v in value)
    return isinstance(value, origin or hint)


def _describe(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        return " or ".join(_describe(arg) for arg in typing.get_args(hint))
    if origin is list:
        item = _describe(typing.get_args(hint)[0]).split(" ", 1)[1]
        return f"a list of {item}s"
    names = {
        str: "a string",
        int: "an integer",
        float: "a number",
        bool: "True/False",
        dict: "a dict",
        type(None): "unset (None)",
    }
    return names.get(hint, getattr(hint, "__name__", str(hint)))
