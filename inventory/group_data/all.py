"""Host data every host shares (every inventory in this folder). Groups and hosts override it.

pyinfra exposes each name below as `host.data.<name>`; `invoke plan` and the deploy read the same
names through src/vllm_fleet/serving/. Secrets never live here: the HF token comes from the
controller's HF_TOKEN variable or a file named by `hf_token_file`, the API key from VLLM_API_KEY
or `vllm_api_key_file` (files on the controller, e.g. hf_token_file = "~/.config/vllm-fleet/hf-token").
"""

# How vLLM runs: "container" (docker run under systemd) or "venv" (a virtualenv under systemd).
runtime = "container"

# The OpenAI-compatible HTTP port (vllm serve --port; the container uses the host's network).
vllm_port = 8000

# On the host: the Hugging Face cache (weights, downloaded once before the service starts) and
# vLLM's compile cache live under this folder, mounted into the container, so a restart neither
# downloads nor recompiles.
vllm_data_dir = "/var/lib/vllm-fleet"

# On the host: secrets the deploy writes (root-only, mode 0600): hf-token, vllm-api-key.
vllm_secrets_dir = "/etc/vllm-fleet"

# The systemd unit (/etc/systemd/system/<name>.service) and the container's name.
vllm_unit_name = "vllm-serve"

# systemd start budget: with Type=exec it covers ExecStartPre (pulling a ~20 GB image). The model
# loads after "started" (10-30 min cold for Kimi-K2); the deploy's ready gate waits for /health.
vllm_start_timeout_s = 3600
# Seconds `docker stop` waits after SIGTERM for in-flight requests before SIGKILL.
vllm_stop_grace_s = 120
# Pause before systemd restarts a failed server (Restart=on-failure).
vllm_restart_delay_s = 30

# Pull the image before each start (ExecStartPre). Off for images loaded onto the host directly
# (air-gapped sites: `docker load` from media); the deploy then checks the image is there.
image_pull = True
# Pin hosts to what `invoke push --target <target> --registry <name:port>` recorded, without
# writing `image`: the repo digest in build/images/<target>.json, as <image_registry>/...@sha256.
# image_registry = "registry.example.internal:5000"
# The same registry as the controller pushed to, when it reaches it by another name.
# image_registry_push_address = "127.0.0.1:5000"
# A private CA (file on the controller) for image_registry, installed for the hosts' Docker.
# image_registry_ca = "/srv/vllm-fleet/registry-ca.crt"

# The docker client on the hosts (Debian/Ubuntu docker.io and docker-ce both install it here).
docker_bin = "/usr/bin/docker"

# runtime = "venv": the virtualenv that holds vLLM (its bin/vllm is ExecStart).
vllm_venv_dir = "/opt/vllm-fleet/venv"

# --- Container engine (deploy/container_engine.py) ---
# Where Docker comes from: "distro" (the OS's docker.io) or "docker" (Docker's own apt repository,
# docker-ce), for hosts that need a newer engine than their distribution ships.
docker_source = "distro"
docker_repo_url = "https://download.docker.com/linux"
# Log rotation for every container (/etc/docker/daemon.json): vLLM logs a line per request batch.
docker_log_max_size = "100m"
docker_log_max_file = 5

# --- Weights (deploy/weights.py) ---
# The Hub the host downloads from (HF_ENDPOINT): huggingface.co, or a site mirror.
hf_endpoint = "https://huggingface.co"
# Free space kept beyond the model's size on the data disk when checking before a download.
weights_free_space_margin = 0.05

# --- Ready gate (deploy/ready.py) ---
# How long the deploy waits for /health after (re)starting the service. A cold Kimi-K2 load on
# 8 GPUs takes 10-30 minutes; the unit's own start budget is vllm_start_timeout_s.
ready_timeout_s = 3600
# Once /health answers, run the smoke checks (invoke smoke) before calling the host done.
ready_smoke = True

# --- GPU drivers (deploy/drivers.py) ---
# Reboot a host when a driver change needs it. Off: the deploy reports it and stops short of
# rebooting (`pyinfra ... --data reboot=true` reboots).
reboot = False
# Supported for drivers: Ubuntu releases by VERSION_ID -> the vendors' repository names for them.
driver_distros = {"22.04": {"cuda": "ubuntu2204", "codename": "jammy"},
                  "24.04": {"cuda": "ubuntu2404", "codename": "noble"}}

# NVIDIA (NVIDIA driver installation guide, "Ubuntu" / network repository). The branch is pinned;
# {branch} in a package name is replaced by it.
nvidia_driver_branch = "580"
nvidia_cuda_repo_url = "https://developer.download.nvidia.com/compute/cuda/repos"
nvidia_cuda_keyring_deb = "cuda-keyring_1.1-1_all.deb"
nvidia_driver_packages = ["cuda-drivers-{branch}"]
# HGX boards with NVSwitch (H100/H200 SXM 8-GPU) need Fabric Manager, or CUDA fails with error
# 802 "system not yet initialized"; its NSCQ library lets nvidia-smi report the switches.
nvidia_nvswitch = False
nvidia_nvswitch_packages = ["nvidia-fabricmanager-{branch}", "libnvidia-nscq-{branch}"]
nvidia_toolkit_repo_url = "https://nvidia.github.io/libnvidia-container"
nvidia_toolkit_packages = ["nvidia-container-toolkit"]

# AMD (ROCm installation guide, "Ubuntu native installation"): the amdgpu kernel driver from the
# ROCm repositories, pinned over the distribution's packages.
rocm_version = "7.0"
amdgpu_repo_version = "30.10"
rocm_repo_url = "https://repo.radeon.com"
rocm_driver_packages = ["amdgpu-dkms", "amd-smi-lib"]
# Accounts that use the GPUs outside containers (operators running amd-smi, a venv runtime that
# does not run as root); root needs no group. Containers get the groups from the model file.
amd_gpu_users = []

# --- Image manifests ---
# Where the deploy and `invoke plan` read build/images/<target>.json (default: build/images of
# this checkout). Point it at a folder of manifests copied from the GPU build machine.
# image_manifest_dir = "/srv/vllm-fleet/manifests"

# --- Site inputs for installs on the host (runtime = "venv") ---
# What the image build gets from `invoke build --ca-bundle/--wheelhouse/--pip-index-url`, for a
# host that installs vLLM itself: files on the controller, copied to the host before pip runs.
# site_ca_bundle = "/etc/ssl/certs/ca-certificates.crt"   # a TLS-re-signing proxy's CA
# site_wheelhouse = "/srv/wheels"                         # wheels pip may install from
site_pip_index_url = ""                                   # a PyPI mirror (empty = PyPI)
