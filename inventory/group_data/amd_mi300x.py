"""Defaults for the 8x AMD Instinct MI300X hosts (group `amd_mi300x` in inventory/prod.py)."""

gpu_vendor = "amd"
gpu_count = 8
model = "kimi-k2-thinking"
profile = "latency"

# The images/matrix.yaml target this host's image is built from (its vLLM version and paths).
image_target = "rocm"
# The image to run: what `invoke build --target rocm --push` printed. Placeholder registry:
# replace it, and pin it by digest (name@sha256:...) so every host runs the same bytes.
image = "registry.example.internal/vllm-fleet/rocm:0.32.0"

# The operators' login account (Ubuntu's default) may run amd-smi and rocm-smi without sudo.
amd_gpu_users = ["ubuntu"]

# deploy/monitoring.py runs AMD's device metrics exporter on these hosts: the image, pinned by
# digest (a mirror of rocm/device-metrics-exporter). Required before the monitoring deploy
# touches these hosts.
# amd_metrics_exporter_image = \
#     "registry.example.internal/rocm/device-metrics-exporter:<tag>@sha256:<digest>"
