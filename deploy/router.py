"""The fleet's one endpoint: vllm-router behind HAProxy on each host of the `routers` group,
fronting the serving hosts of one model (docs/router.md).

    invoke plan --inventory inventory/prod.py          # the router's unit, workers and URL
    pyinfra inventory/prod.py deploy/router.py         # do it

Run it before, after or while deploy/serve.py runs: the router starts with no workers and adds
each serving host once its /health answers. Hosts outside `routers` are left alone. A mistake in
any router's pool or address stops the run here, before any host is changed.
"""

from vllm_fleet.deploy.context import router_spec
from vllm_fleet.deploy.router import install_router

spec = router_spec()
if spec is not None:
    install_router(spec)
