"""Defaults for the local sandbox host (inventory/sandbox.py): no GPU, the tiny CPU model."""

gpu_vendor = "none"
gpu_count = 0
model = "kimi-tiny"
profile = "cpu"

# The `cpu` image built on this machine. With no `image` set, the host runs the tag that
# `invoke build --target cpu` recorded in build/images/cpu.json.
image_target = "cpu"
# The deploy copies the local image onto the host (docker save | docker load): nothing to pull.
image_pull = False

# The local hub container on the sandbox network (vllm_fleet.local.hub), standing in for the Hub.
hf_endpoint = "http://vllm-fleet-hub:8080"
# The tiny model loads in under a minute on the CPU.
ready_timeout_s = 300

# Faster supervision than a 1T model needs, so the fault tests run in a minute: restart 5 s
# after an unasked exit, probe /health every 5 s, kill after 3 failed or hung (5 s) probes.
# (5 s, not less: on this 2-core machine a loaded server can be slow to answer.)
vllm_restart_delay_s = 5
health_watchdog_interval_s = 5
health_watchdog_failures = 3
health_watchdog_timeout_s = 5
