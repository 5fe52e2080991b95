"""Defaults for the monitoring hosts (group `monitoring` in inventory/prod.py): Prometheus from
Debian scraping the whole inventory (deploy/monitoring.py). Every key, its default and reason:
src/vllm_fleet/hostdata.py (HostSettings, "Monitoring").

Add the group to the inventory, e.g. in inventory/prod.py:
    monitoring = ["monitor-01.example.internal"]
"""

# Where Prometheus answers. Loopback by default; to open it to the site, bind an address and
# turn on basic auth (the password comes from the controller's PROMETHEUS_PASSWORD or
# prometheus_password_file, never from this file):
# prometheus_listen_address = "0.0.0.0:9090"
# prometheus_basic_auth_user = "ops"

# How long samples are kept on the monitoring host's disk.
prometheus_retention = "30d"

# Grafana is not in Debian: set its image, pinned by digest, to run it as a container with the
# dashboards of monitoring/dashboards/ provisioned. Unset: the dashboards are only files.
# grafana_image = "registry.example.internal/grafana/grafana:12.1.1@sha256:<digest>"
