"""Defaults for the hub cache hosts (group `hub_cache` in inventory/prod.py): olah, a pull-through
Hugging Face mirror, which the serving hosts download weights through (deploy/serve.py installs
it first; docs/hub-cache.md). Every key, its default and reason: src/vllm_fleet/hostdata.py
(HostSettings, "Hub cache")."""

# The data disk the cached files live on: at least the model's size (~594 GB for
# Kimi-K2-Thinking) plus weights_free_space_margin, per revision kept.
hub_cache_dir = "/data/hub-cache"

# olah's port; serving hosts use http://<cache host>:<port> unless hub_cache_url says otherwise.
hub_cache_port = 8090

# An air-gapped site: answer only from the cache's disk (filled from a copy,
# docs/runbooks/air-gapped-weights.md), never asking hf_endpoint.
# hub_cache_offline = True
