"""The router host: vllm-router (pinned, from PyPI, in a virtualenv) on 127.0.0.1, the reconciler
that adds each worker once its /health answers, and HAProxy (the distribution's package) as the
client address, forwarding only the API routes and asking for the API key.

Order on the host: packages, venv, files, then HAProxy's configuration is checked with
`haproxy -c` before it replaces the live one (a bad one stops the deploy and the old one keeps
serving), then the units start or restart only when what they read changed.
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import httpx
from pyinfra import host, logger
from pyinfra.api import deploy
from pyinfra.api.exceptions import OperationError
from pyinfra.operations import apt, files, python, server, systemd
from pyinfra.operations.util import any_changed

from vllm_fleet.deploy.credentials import read_secret
from vllm_fleet.deploy.site import install_pinned_package, install_system_account
from vllm_fleet.router import render, router_workers
from vllm_fleet.router.spec import HAPROXY_CONFIG, RouterSpec


@deploy("vLLM router")
def install_router(spec: RouterSpec) -> None:
    s = spec.settings
    apt.packages(
        name="HAProxy and Python's venv",
        packages=["haproxy", "python3-venv"],
        update=True,
        cache_time=3600,
    )
    install_system_account(spec.service_user)
    files.directory(name=f"Router files {spec.config_dir}", path=spec.config_dir, mode="0755")
    installed = install_pinned_package(
        "vllm-router", s.router_version, s.router_venv_dir, spec.config_dir
    )
    script = files.put(
        name="Worker reconciler",
        src=str(Path(router_workers.__file__)),
        dest=spec.gate_script,
        mode="0644",
    )
    files.put(
        name=f"Worker list {spec.workers_file}",
        src=io.StringIO(render.workers_file(spec)),
        dest=spec.workers_file,
        mode="0644",
    )
    key = _install_key(spec)
    config = _install_haproxy_config(spec)
    router_unit = files.put(
        name=f"Unit {spec.unit_path}",
        src=io.StringIO(render.router_unit(spec)),
        dest=spec.unit_path,
        mode="0644",
    )
    workers_unit = files.put(
        name=f"Unit {spec.workers_unit_path}",
        src=io.StringIO(render.workers_unit(spec)),
        dest=spec.workers_unit_path,
        mode="0644",
    )
    systemd.daemon_reload(name="Reload systemd units", _if=any_changed(router_unit, workers_unit))
    _run(f"{spec.unit_name}.service", any_changed(router_unit, installed))
    _run(f"{spec.workers_unit_name}.service", any_changed(workers_unit, script))
    haproxy = _run("haproxy.service", any_changed(*[op for op in (config, key) if op]), reload=True)
    python.call(
        name=f"Wait for {spec.url}/health",
        function=wait_for_router,
        spec=spec,
        _if=any_changed(haproxy, router_unit, installed),
    )


def _install_key(spec: RouterSpec):
    """The API key as HAProxy matches it (`Bearer <key>`), root-only 0600."""
    if spec.api_key is None:
        files.file(name=f"No API key: remove {spec.key_file}", path=spec.key_file, present=False)
        return None
    files.directory(
        name="Secrets directory (root only)",
        path=spec.settings.vllm_secrets_dir,
        user="root",
        group="root",
        mode="0700",
    )
    return files.put(
        name=f"API key -> {spec.key_file}",
        src=io.StringIO(f"Bearer {read_secret(spec.api_key)}\n"),
        dest=spec.key_file,
        user="root",
        group="root",
        mode="0600",
    )


def _install_haproxy_config(spec: RouterSpec):
    """Write a candidate, check it with `haproxy -c` (a failure stops the deploy while the live
    configuration keeps serving), and only then write the live one."""
    text = render.haproxy_config(spec)
    candidate = f"{HAPROXY_CONFIG}.vllm-fleet-candidate"
    written = files.put(
        name=f"HAProxy configuration candidate {candidate}",
        src=io.StringIO(text),
        dest=candidate,
        mode="0644",
    )
    server.shell(
        name="Check the candidate with haproxy -c",
        commands=[f"haproxy -c -q -f {candidate}"],
        _if=written.did_change,
    )
    return files.put(
        name=f"HAProxy configuration {HAPROXY_CONFIG}",
        src=io.StringIO(text),
        dest=HAPROXY_CONFIG,
        mode="0644",
    )


def _run(unit: str, changed, reload: bool = False):
    """Start ``unit`` (enabled); restart (or reload) it when ``changed``."""
    systemd.service(name=f"Start {unit}", service=unit, running=True, enabled=True)
    return systemd.service(
        name=f"{'Reload' if reload else 'Restart'} {unit} for its new configuration",
        service=unit,
        running=True,
        **({"reloaded": True} if reload else {"restarted": True}),
        _if=changed,
    )


def wait_for_router(spec: RouterSpec) -> None:
    """The client address answers /health (vllm-router's own, through HAProxy: it answers once
    both are up, with or without workers)."""
    timeout = spec.settings.router_ready_timeout_s
    started = time.monotonic()
    while True:
        try:
            if httpx.get(f"{spec.url}/health", timeout=5).status_code == 200:
                logger.info(
                    f"    [{host.name}] router {spec.url} ready after "
                    f"{time.monotonic() - started:.0f} s"
                )
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() - started > timeout:
            raise OperationError(f"{spec.url}/health did not answer within {timeout} s")
        time.sleep(2)
