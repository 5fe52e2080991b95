"""Defaults for the router hosts (group `routers` in inventory/prod.py): vllm-router behind
HAProxy, fronting the serving hosts of one model. Every router key, its default and why, is in
src/vllm_fleet/hostdata.py (router_*); docs/router.md says how the pieces fit."""

# Clients use http://<router host>:8080 (HAProxy); vllm-router itself listens on 127.0.0.1.
router_port = 8080

# Prefix-aware routing: a repeated prompt prefix (multi-turn agent traffic) goes to the replica
# that has it in its KV cache. Others: round_robin, power_of_two, consistent_hash, ...
router_policy = "cache_aware"

# A dead worker leaves rotation after router_health_failures probes this many seconds apart.
router_health_interval_s = 4

# Which serving hosts this router fronts: unset = every host of the inventory that serves a
# model. Name a group to front only it, e.g. router_pool = "nvidia_h200".
# router_pool = "nvidia_h200"
