"""Defaults for the 8x NVIDIA H200 hosts (group `nvidia_h200` in inventory/prod.py)."""

gpu_vendor = "nvidia"
gpu_count = 8
model = "kimi-k2-thinking"
profile = "latency"

# The images/matrix.yaml target this host's image is built from (its vLLM version and paths).
image_target = "cuda"
# The image to run: what `invoke build --target cuda --push` printed. Placeholder registry:
# replace it, and pin it by digest (name@sha256:...) so every host runs the same bytes.
image = "registry.example.internal/vllm-fleet/cuda:0.32.0"

# HGX H200 8-GPU boards are NVSwitch systems: Fabric Manager is required.
nvidia_nvswitch = True

# deploy/monitoring.py runs NVIDIA's DCGM exporter on these hosts: the image, pinned by digest
# (`docker buildx imagetools inspect nvcr.io/nvidia/k8s/dcgm-exporter:<tag>` prints it). Required
# before the monitoring deploy touches these hosts.
# dcgm_exporter_image = "registry.example.internal/nvidia/k8s/dcgm-exporter:<tag>@sha256:<digest>"
