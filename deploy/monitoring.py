"""See the fleet: `pyinfra INVENTORY deploy/monitoring.py`.

Every host gets Debian's node exporter, and its GPU vendor's exporter (a container pinned by
digest); hosts of the `monitoring` group get Prometheus (Debian) scraping the whole inventory,
the alert rules of monitoring/rules/ (promtool-checked on the host before they go live) and the
dashboards of monitoring/dashboards/, with Grafana when `grafana_image` is set.
"""

from vllm_fleet.deploy.monitoring import (
    install_dashboards,
    install_gpu_exporter,
    install_node_exporter,
    install_prometheus,
    this_host,
)

monitor = this_host()
install_node_exporter()
install_gpu_exporter()
if monitor.is_monitoring:
    install_prometheus()
    install_dashboards()
