"""Host data every host of this site shares. Groups (group_data/<group>.py) and hosts override it.

Only what a site is expected to change lives here. Every key vllm-fleet reads, with its type,
default and reason, is declared once in src/vllm_fleet/hostdata.py (HostSettings); a key that is
not declared there, or has the wrong type, stops `invoke plan` and the deploy with one line.

Secrets never live here: the HF token comes from the controller's HF_TOKEN variable or a file
named by `hf_token_file`, the API key from VLLM_API_KEY or `vllm_api_key_file`, for example
hf_token_file = "~/.config/vllm-fleet/hf-token".
"""

# How vLLM runs: "container" (docker run under systemd) or "venv" (a virtualenv under systemd).
runtime = "container"

# The OpenAI-compatible HTTP port (vllm serve --port; the container uses the host's network).
vllm_port = 8000

# The data disk: the Hugging Face cache (weights, downloaded once before the service starts) and
# vLLM's compile cache, so a restart neither downloads nor recompiles. Kimi-K2-Thinking needs
# ~600 GB free here.
vllm_data_dir = "/var/lib/vllm-fleet"

# The Hub the hosts download from (HF_ENDPOINT): huggingface.co, or a site mirror.
hf_endpoint = "https://huggingface.co"

# Pin hosts to what `invoke push --target <target> --registry <name:port>` recorded, without
# writing `image`: the repo digest in build/images/<target>.json, as <image_registry>/...@sha256.
# image_registry = "registry.example.internal:5000"
# A private CA (file on the controller) for image_registry, installed for the hosts' Docker.
# image_registry_ca = "/srv/vllm-fleet/registry-ca.crt"

# Where Docker comes from: "distro" (the OS's docker.io) or "docker" (Docker's own apt repository,
# docker-ce), for hosts that need a newer engine than their distribution ships.
docker_source = "distro"

# The pinned NVIDIA driver branch (cuda-drivers-<branch>, nvidia-fabricmanager-<branch>).
nvidia_driver_branch = "580"

# AMD: the ROCm release and the amdgpu kernel driver release from repo.radeon.com. The driver
# must be one AMD pairs with the image's ROCm (images/matrix.yaml rocm_version; the deploy checks
# src/vllm_fleet/serving/amdgpu-rocm.yaml): vllm/vllm-openai-rocm images are built on ROCm 7.2.
rocm_version = "7.2"
amdgpu_repo_version = "30.30"

# Where the deploy and `invoke plan` read build/images/<target>.json (default: build/images of
# this checkout). Point it at a folder of manifests copied from the GPU build machine.
# image_manifest_dir = "/srv/vllm-fleet/manifests"

# --- Site inputs for installs on the host (runtime = "venv") ---
# What the image build gets from `invoke build --ca-bundle/--wheelhouse/--pip-index-url`, for a
# host that installs vLLM itself: files on the controller, copied to the host before pip runs.
# site_ca_bundle = "/etc/ssl/certs/ca-certificates.crt"   # a TLS-re-signing proxy's CA
# site_wheelhouse = "/srv/wheels"                         # wheels pip may install from
# site_pip_index_url = "https://pypi.example.internal/simple"
