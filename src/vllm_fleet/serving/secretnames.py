"""The secrets vllm-fleet handles, named once: the controller variables that may hold them and
where a container sees them. Only a variable's presence is ever looked at by a plan; the value is
read only by the deploy's credential step."""

from __future__ import annotations

HF_TOKEN_ENV = "HF_TOKEN"  # huggingface_hub's token variable (weights download only)
API_KEY_ENV = "VLLM_API_KEY"  # vllm serve reads its API key from this variable
# The controller variables that may hold secrets.
SECRET_ENV_NAMES = (HF_TOKEN_ENV, API_KEY_ENV)

# Where a container sees a secret file (mounted read-only): never a command line or an env value.
HF_TOKEN_IN_CONTAINER = "/run/secrets/hf-token"
API_KEY_IN_CONTAINER = "/run/secrets/vllm-api-key"
