"""The local sandbox: "bare-metal hosts" that are systemd containers on this machine, reached over
SSH on 127.0.0.1 (host i: port 2221+i) with a key generated under build/sandbox/, serving vLLM
on 127.0.0.1:7999+i. They have no GPU and serve the tiny CPU model; their serving data is in
group_data/sandbox.py. Host 1 is also the fleet's router (group_data/routers.py), its client
address 127.0.0.1:8080, and its hub cache (olah in front of the local hub, which every host
downloads weights through); the last host is also the monitoring host (Prometheus).

This file lists the hosts that are up (`invoke sandbox.up --hosts N` makes them); with none up,
pyinfra and `invoke plan` stop with one line saying so.

    invoke sandbox.up --hosts 3
    invoke plan --inventory inventory/sandbox.py
    pyinfra inventory/sandbox.py deploy/serve.py
    pyinfra inventory/sandbox.py deploy/router.py
    pyinfra inventory/sandbox.py deploy/monitoring.py
"""

from vllm_fleet.local import sandbox as _sandbox

sandbox = _sandbox.inventory()
routers = _sandbox.routers()
hub_cache = _sandbox.hub_caches()
monitoring = _sandbox.monitoring_hosts()
