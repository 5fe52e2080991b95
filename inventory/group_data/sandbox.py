"""Defaults for the local sandbox hosts (inventory/sandbox.py): no GPU, the tiny CPU model."""

from vllm_fleet.images import site as _site
from vllm_fleet.local import sandbox as _sandbox
from vllm_fleet.local.hub import container as _hub
from vllm_fleet.local.sandbox import registry as _registry

gpu_vendor = "none"
gpu_count = 0
model = _sandbox.MODEL
profile = "cpu"

# The `cpu` image built on this machine and pushed to the sandbox registry
# (`invoke push --target cpu --registry 127.0.0.1:5000`). With no `image` set, the host runs the
# repo digest that push recorded in build/images/cpu.json, pulled as production hosts pull.
image_target = "cpu"
image_pull = True
# The registry the hosts pull from (name:port), and the address the controller pushed to when it
# reaches the same registry under another name (here: its loopback port). A repo digest names
# content, so the digest recorded under one name is valid under the other.
image_registry = _registry.HOST_ADDRESS
image_registry_push_address = _registry.LOCAL_ADDRESS
# A CA (file on the controller) the hosts' Docker trusts for image_registry; the deploy installs
# it as /etc/docker/certs.d/<image_registry>/ca.crt. The sandbox registry's CA is made by
# `invoke sandbox.up`.
image_registry_ca = str(_registry.CA_CERT)

# The sandbox hosts reach PyPI as this machine does (the router host's pip install): through the
# CA bundle this machine's pip trusts, when it has one (a TLS-re-signing proxy's).
site_ca_bundle = str(_site.pip_ca_bundle() or "") or None

# The local hub container on the sandbox network (vllm_fleet.local.hub), standing in for the Hub.
hf_endpoint = _hub.HUB_URL
# The tiny model loads in under a minute on the CPU.
ready_timeout_s = 300

# Faster supervision than a 1T model needs, so the fault tests run in a minute: restart 5 s
# after an unasked exit, probe /health every 5 s, kill after 3 failed or hung (5 s) probes.
# (5 s, not less: on this 2-core machine a loaded server can be slow to answer.)
vllm_restart_delay_s = 5
health_watchdog_interval_s = 5
health_watchdog_failures = 3
health_watchdog_timeout_s = 5

# Scrape and evaluate every 5 s, so an alert's `for:` window is what the tests wait on, not the
# scrape interval.
prometheus_scrape_interval = "5s"
