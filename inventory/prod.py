"""The production fleet: pyinfra inventory. Each group has a group_data/<group>.py with its
defaults (GPU vendor and count, model, profile, image); group_data/all.py holds what every host
shares. A host's own dict overrides both.

Hostnames are placeholders: replace them with your hosts. Check what each host will run, without
connecting to any:  invoke plan --inventory inventory/prod.py [--host NAME] [--json]
Deploy:             pyinfra inventory/prod.py deploy/serve.py
"""

# 8x NVIDIA H200 (HGX, NVSwitch). Profile defaults to `latency`; a host may pick another.
nvidia_h200 = [
    "h200-01.example.internal",
    ("h200-02.example.internal", {"profile": "throughput"}),
]

# 8x AMD Instinct MI300X. No throughput profile (TP8 + DCP8) here yet: DCP is not verified on
# AMD, and `invoke plan` refuses it until a host sets amd_unverified_dcp = True.
amd_mi300x = [
    "mi300x-01.example.internal",
    "mi300x-02.example.internal",
]

# The one endpoint clients use: vllm-router behind HAProxy on a CPU host (no `model`: it serves
# nothing itself). Its pool is every serving host above (one model); group_data/routers.py.
# Check it:  invoke plan --inventory inventory/prod.py --host router-01.example.internal
# Deploy:    pyinfra inventory/prod.py deploy/router.py
routers = [
    "router-01.example.internal",
]

# The fleet's Hugging Face cache (olah): the serving hosts download weights through it, so each
# file of a revision crosses the WAN once (~594 GB for Kimi-K2-Thinking, not once per host). It
# can share the router's CPU host, with a data disk of the model's size (group_data/hub_cache.py).
hub_cache = [
    "router-01.example.internal",
]
