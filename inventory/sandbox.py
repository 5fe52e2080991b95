"""The local sandbox: one "bare-metal host" that is a systemd container on this machine, reached
over SSH on 127.0.0.1:2222 with a key generated under build/sandbox/ (docs/architecture.md).
It has no GPU and serves the tiny CPU model; its serving data is in group_data/sandbox.py.

    invoke plan --inventory inventory/sandbox.py
    pyinfra inventory/sandbox.py deploy/serve.py
"""

from vllm_fleet.paths import BUILD_DIR

sandbox = [
    (
        "127.0.0.1",
        {
            "ssh_port": 2222,
            "ssh_user": "root",
            "ssh_key": str(BUILD_DIR / "sandbox" / "id_ed25519"),
            # A throwaway container whose host key changes on every rebuild.
            "ssh_known_hosts_file": "/dev/null",
            "ssh_strict_host_key_checking": "no",
        },
    ),
]
