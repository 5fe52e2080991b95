"""Take hosts from a plain OS to a running, verified vLLM service.

    invoke plan --inventory inventory/prod.py     # what each host will run (no connection)
    pyinfra inventory/prod.py deploy/serve.py     # do it

Each step is also a deploy file of its own (deploy/drivers.py, ...). Bad host data stops the
run here, with one line naming the file and field, before any host is changed. A host of the
`hub_cache` group gets the fleet's Hugging Face cache first, so it answers before any host
downloads weights through it. Hosts that serve no model (routers, caches, monitoring: no `model`
in their data) are otherwise left alone.

A change restarts at most `max_unavailable` serving hosts of a pool at once: pyinfra restarts
every host of a run together, so past that the deploy stops and says to run `invoke rollout`
(host by host through the router; docs/rolling-changes.md). Each host records what it runs once
its ready gate passed; a failed gate returns it to what it ran before.
"""

from vllm_fleet.deploy.account import install_service_account
from vllm_fleet.deploy.container_engine import install_container_engine
from vllm_fleet.deploy.context import host_spec, hub_cache_spec, serves_a_model
from vllm_fleet.deploy.credentials import install_credentials
from vllm_fleet.deploy.drivers import install_drivers
from vllm_fleet.deploy.gpugate import admit_gpus
from vllm_fleet.deploy.hub_cache import install_hub_cache
from vllm_fleet.deploy.image import install_image
from vllm_fleet.deploy.ready import ready_gate
from vllm_fleet.deploy.rolling import last_good, record_version
from vllm_fleet.deploy.service import install_service
from vllm_fleet.deploy.venv import install_venv
from vllm_fleet.deploy.weights import download_weights

cache = hub_cache_spec()
if cache is not None:
    install_hub_cache(cache)
if serves_a_model():
    spec = host_spec()
    reboot_pending = install_drivers()
    install_container_engine()
    install_service_account()
    install_credentials()
    install_image()
    install_venv()
    download_weights()
    admit_gpus(reboot_pending)
    started = install_service()
    ready_gate(spec, started, rollback_to=last_good(spec))
    record_version(spec)
