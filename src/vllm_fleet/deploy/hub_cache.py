"""The cache host: olah (pinned, from PyPI, in a virtualenv) as a systemd unit, its cache on the
data disk named by `hub_cache_dir`, upstream the site's `hf_endpoint`.

It runs in deploy/serve.py before the serving hosts' weights step: pyinfra runs each operation
on every host before the next one, so the cache answers before any host downloads through it.
Hosts that start a download of the same file together are served by one upstream fetch (olah
0.5.4 downloads each uncached block once and makes the other requests wait for it: its
proxy/files.py, "per-block single-flight").
"""

from __future__ import annotations

import io
import shlex

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.operations import apt, files, server, systemd
from pyinfra.operations.util import any_changed

from vllm_fleet.deploy.context import fail, host_settings
from vllm_fleet.deploy.facts import FreeBytes, UsedBytes
from vllm_fleet.deploy.site import install_pinned_package, install_system_account
from vllm_fleet.hubcache import render
from vllm_fleet.hubcache.spec import HubCacheSpec


@deploy("Hub cache")
def install_hub_cache(spec: HubCacheSpec) -> None:
    s = spec.settings
    check_cache_space(spec)
    # olah imports GitPython (for its git mirrors, olah/server_mirror.py), which will not load
    # without the git executable.
    apt.packages(
        name="Python's venv and git",
        packages=["python3-venv", "git"],
        update=True,
        cache_time=3600,
    )
    install_system_account(spec.service_user, home=spec.cache_dir)
    files.directory(
        name=f"Cache folder {spec.cache_dir}",
        path=spec.cache_dir,
        user=spec.service_user,
        group=spec.service_user,
        mode="0750",
    )
    etc = f"{s.hub_cache_venv_dir}/etc"
    files.directory(name=f"Cache files {etc}", path=etc, mode="0755")
    installed = install_pinned_package("olah", s.hub_cache_version, s.hub_cache_venv_dir, etc)
    config = files.put(
        name=f"olah configuration {spec.config_path}",
        src=io.StringIO(render.olah_config(spec)),
        dest=spec.config_path,
        mode="0644",
    )
    unit = files.put(
        name=f"Unit {spec.unit_path}",
        src=io.StringIO(render.unit(spec)),
        dest=spec.unit_path,
        mode="0644",
    )
    systemd.daemon_reload(name="Reload systemd units", _if=unit.did_change)
    service = f"{spec.unit_name}.service"
    started = systemd.service(name=f"Start {service}", service=service, running=True, enabled=True)
    restarted = systemd.service(
        name=f"Restart {service} for its new configuration",
        service=service,
        running=True,
        restarted=True,
        _if=any_changed(unit, config, installed),
    )
    server.shell(
        name=f"Wait for the cache on port {s.hub_cache_port}",
        commands=[wait_command(spec)],
        _if=any_changed(started, restarted),
    )


def check_cache_space(spec: HubCacheSpec) -> None:
    """Stop before anything changes when the cache's disk cannot hold what its clients fetch:
    free space plus what the cache already holds, against every model's size plus the margin."""
    needed = int(spec.size_bytes * (1 + host_settings().weights_free_space_margin))
    free = host.get_fact(FreeBytes, path=spec.cache_dir)
    used = host.get_fact(UsedBytes, path=spec.cache_dir)
    if free is not None and free + used < needed:
        listing = ", ".join(f"{m.repo_id}@{m.revision[:12]}" for m in spec.models)
        fail(
            f"hub_cache_dir {spec.cache_dir}: not enough disk for the cache of {listing}: "
            f"needs {needed / 1e9:.1f} GB, {(free + used) / 1e9:.1f} GB free or already cached"
        )


def wait_command(spec: HubCacheSpec) -> str:
    """Until olah accepts connections on the host itself (uvicorn listens once olah's start-up
    is complete), bounded by hub_cache_ready_timeout_s."""
    probe = shlex.join(
        [
            f"{spec.settings.hub_cache_venv_dir}/bin/python",
            "-c",
            "import socket, sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), 5)",
            str(spec.settings.hub_cache_port),
        ]
    )
    loop = f"until {probe} 2>/dev/null; do sleep 1; done"
    # On a timeout, the unit's last journal lines say why (a crash loop, a bad configuration).
    journal = f"journalctl -u {spec.unit_name}.service -n 20 --no-pager -o cat >&2"
    timeout = spec.settings.hub_cache_ready_timeout_s
    return f"timeout {timeout} sh -c {shlex.quote(loop)} || {{ {journal}; exit 1; }}"
