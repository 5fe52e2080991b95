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

# Pull the image before each start (ExecStartPre). Off for images loaded onto the host directly.
image_pull = True

# The docker client on the hosts (Debian/Ubuntu docker.io and docker-ce both install it here).
docker_bin = "/usr/bin/docker"

# runtime = "venv": the virtualenv that holds vLLM (its bin/vllm is ExecStart).
vllm_venv_dir = "/opt/vllm-fleet/venv"
