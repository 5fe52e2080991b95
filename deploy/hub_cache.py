"""The fleet's Hugging Face cache alone: `pyinfra INVENTORY deploy/hub_cache.py`.

olah on each host of the `hub_cache` group (docs/hub-cache.md); deploy/serve.py runs the same
step before the serving hosts download. Hosts outside the group are left alone.
"""

from vllm_fleet.deploy.context import hub_cache_spec
from vllm_fleet.deploy.hub_cache import install_hub_cache

spec = hub_cache_spec()
if spec is not None:
    install_hub_cache(spec)
