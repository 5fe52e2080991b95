"""Render a ServeSpec into its systemd unit (templates/vllm-serve*.service.j2).

The command lines are built here, from the spec alone, and the templates only lay them out, so
the plan can show the exact `docker run` / `vllm serve` a host will execute. Rendering is
deterministic (no timestamps, no lookups): the same spec gives the same bytes.

Secrets: a credential the server needs (the API key) reaches it as a file, never as a value:
the container mounts the host file read-only, the venv unit gets it through LoadCredential=, and
a `/bin/sh -c` prelude reads it and exports VLLM_API_KEY right before `exec vllm serve`. So the
value is in neither the unit, the command line, `docker inspect` nor `systemctl show`.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

import jinja2

from vllm_fleet.paths import TEMPLATES_DIR
from vllm_fleet.serving.hardening import CONTAINER_OPTIONS
from vllm_fleet.serving.spec import Credential, ServeSpec
from vllm_fleet.serving.supervision import WATCHDOG_SCRIPT
from vllm_fleet.templating import render, strict_environment

TEMPLATES = {"container": "vllm-serve.service.j2", "venv": "vllm-serve-venv.service.j2"}
SHELL = "/bin/sh"
# Characters systemd passes through unquoted in an Exec line (after $ and % are doubled).
_PLAIN = re.compile(r"^[A-Za-z0-9_@%+=:,./$-]+$")


def command(spec: ServeSpec, group_ids: dict[str, int] | None = None) -> list[str]:
    """The argv the unit's ExecStart runs: `docker run ...` or the venv's `vllm serve ...`."""
    return [arg for group in command_groups(spec, group_ids) for arg in group]


def command_groups(spec: ServeSpec, group_ids: dict[str, int] | None = None) -> list[list[str]]:
    """``command(spec)`` cut into readable pieces: an option with its value, the image, ...

    ``group_ids``: the host's numeric ids of the container's supplementary groups (the deploy
    reads them from the host); without them the plan shows the names.
    """
    if spec.runtime != "container":
        return _venv_groups(spec)
    return _container_groups(spec, group_ids or {})


def _container_groups(spec: ServeSpec, group_ids: dict[str, int]) -> list[list[str]]:
    """`docker run` in the foreground, host network, GPUs, caches, non-secret environment."""
    access = spec.container
    groups = [
        [spec.unit.docker_bin or "docker", "run"],
        ["--rm"],
        ["--name", spec.unit.name],
        ["--init"],
        ["--network", "host"],
        *CONTAINER_OPTIONS,
    ]
    if access.gpus:
        groups.append(["--gpus", access.gpus])
    if access.ipc:
        groups.append(["--ipc", access.ipc])
    groups += [["--device", device] for device in access.devices]
    # By number: `--group-add render` fails when the image's /etc/group has no such name, and the
    # device nodes belong to the host's group ids anyway (vLLM's AMD CI passes the host's GID).
    groups += [["--group-add", str(group_ids.get(group, group))] for group in access.group_add]
    groups += [
        ["-v", f"{m.host_path}:{m.container_path}" + (":ro" if m.read_only else "")]
        for m in spec.volumes
    ]
    groups += [["-e", f"{name}={value}"] for name, value in spec.env]
    secrets = spec.service_credentials
    if secrets:
        script = _secret_prelude([(c.env, c.container_path) for c in secrets])
        head = [["--entrypoint", SHELL], [spec.image or ""], ["-c", script]]
        return groups + head + argv_groups(list(spec.argv))
    head = [["--entrypoint", spec.argv[0]], [spec.image or ""]]
    return groups + head + argv_groups(list(spec.argv[1:]))


def _venv_groups(spec: ServeSpec) -> list[list[str]]:
    """The venv's `vllm serve`, behind a shell prelude when a credential must be read."""
    argv = [f"{spec.unit.venv_dir}/bin/{spec.argv[0]}", *spec.argv[1:]]
    secrets = spec.service_credentials
    if not secrets:
        return argv_groups(argv)
    # The service account reads the key file itself (root:<account> 0640, written by the
    # deploy), as the container runtime does through its read-only mount. (LoadCredential= was
    # tried: in the sandbox's containerised systemd 252 it left $CREDENTIALS_DIRECTORY empty.)
    files = [(c.env, c.host_path) for c in secrets]
    return [[SHELL], ["-c", _secret_prelude(files)], *argv_groups(argv)]


def argv_groups(argv: list[str]) -> list[list[str]]:
    """Leading words together, then each option with the values that follow it."""
    groups: list[list[str]] = []
    for arg in argv:
        if not groups or arg.startswith("-"):
            groups.append([arg])
        else:
            groups[-1].append(arg)
    return groups


def _secret_prelude(files: list[tuple[str, str]]) -> str:
    """``sh -c`` text: read each file into its variable (fail if unreadable), then exec "$0"."""
    reads = " ".join(
        f'{env}="$(cat {shlex.quote(path)})" || exit 1; export {env};' for env, path in files
    )
    return f'{reads} exec "$0" "$@"'


def render_unit(spec: ServeSpec, group_ids: dict[str, int] | None = None) -> str:
    """The systemd unit text for ``spec`` (its runtime picks the template)."""
    return render_template(
        TEMPLATES[spec.runtime],
        spec=spec,
        unit=spec.unit,
        sup=spec.unit.supervision,
        docker=spec.unit.docker_bin,
        exec_start=command_groups(spec, group_ids),
        header=_header(spec),
        description=f"vLLM serving {spec.served_model_name} ({spec.model}, profile "
        f"{spec.profile}, {spec.runtime})",
    )


def render_watchdog(spec: ServeSpec) -> dict[str, str]:
    """The watchdog's files (path -> text): its probe script, oneshot service and timer. Empty
    when host data turns the watchdog off."""
    watchdog = spec.unit.supervision.watchdog if spec.unit.supervision else None
    if watchdog is None:
        return {}
    argv = [
        WATCHDOG_SCRIPT,
        f"{spec.unit.name}.service",
        watchdog.url,
        str(watchdog.failures),
        str(watchdog.timeout_s),
        *watchdog.kill,
    ]
    context = {"unit": spec.unit, "wd": watchdog, "header": _header(spec)}
    return {
        WATCHDOG_SCRIPT: (TEMPLATES_DIR / "vllm-health-watchdog.sh").read_text(),
        f"/etc/systemd/system/{watchdog.unit}.service": render_template(
            "vllm-watchdog.service.j2", command=[argv], **context
        ),
        f"/etc/systemd/system/{watchdog.unit}.timer": render_template(
            "vllm-watchdog.timer.j2", **context
        ),
    }


def render_template(name: str, **context: Any) -> str:
    """Render ``templates/<name>``; template problems become one RenderError naming the file."""
    return render(_environment(), name, **context)


def shell_command(argv: list[str] | tuple[str, ...]) -> str:
    """One line a person can paste into a shell (for the plan)."""
    return shlex.join(argv)


def _header(spec: ServeSpec) -> str:
    return (
        f"Generated by vllm-fleet for {spec.host}\n# from {spec.model_file}, profile "
        f"{spec.profile}. Do not edit: the deploy rewrites it.\n"
        f"# Preview changes with: invoke plan --inventory INVENTORY --host {spec.host}"
    )


def _environment() -> jinja2.Environment:
    env = strict_environment(TEMPLATES_DIR, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(
        systemd_arg=systemd_arg, systemd_command=systemd_command, systemd_env=systemd_env
    )
    return env


def systemd_arg(arg: str) -> str:
    """Quote one argument for an Exec= line: systemd expands $VAR and %x, so both are doubled."""
    escaped = arg.replace("%", "%%").replace("$", "$$")
    if arg and arg != ";" and _PLAIN.match(arg):
        return escaped
    return '"' + escaped.replace("\\", "\\\\").replace('"', '\\"') + '"'


def systemd_command(groups: list[list[str]]) -> str:
    """An Exec= value, one piece per continuation line, so reviews diff line by line."""
    return " \\\n    ".join(" ".join(systemd_arg(arg) for arg in group) for group in groups)


def systemd_env(assignment: str) -> str:
    """An Environment= value: one quoted NAME=value (specifiers doubled, quotes escaped)."""
    escaped = assignment.replace("%", "%%").replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def credential_reference(credential: Credential) -> str:
    """How a plan shows a secret: where it comes from and where it goes, never its value."""
    return f"<secret from {credential.source} -> {credential.host_path}>"
