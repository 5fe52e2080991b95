"""The local sandbox: "bare-metal hosts" that are systemd containers on this machine, reached over
SSH on 127.0.0.1 (host i: port 2221+i) with a key generated under build/sandbox/, serving vLLM
on 127.0.0.1:7999+i. They have no GPU and serve the tiny CPU model; their serving data is in
group_data/sandbox.py.

This file lists the hosts that are up (`invoke sandbox.up --hosts N` makes them); with none up,
pyinfra and `invoke plan` stop with one line saying so.

    invoke sandbox.up --hosts 3
    invoke plan --inventory inventory/sandbox.py
    pyinfra inventory/sandbox.py deploy/serve.py
"""

from vllm_fleet.local import sandbox as _sandbox

sandbox = _sandbox.inventory()
