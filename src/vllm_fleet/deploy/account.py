"""runtime = venv: the dedicated system account the server runs as (vllm_fleet.serving.hardening),
and the data folders it owns. The container runtime needs none: dockerd runs the server."""

from __future__ import annotations

import shlex

from pyinfra import host, logger
from pyinfra.api import deploy
from pyinfra.facts.server import Command
from pyinfra.operations import server

from vllm_fleet.deploy.context import host_spec
from vllm_fleet.deploy.facts import GroupIds


@deploy("Service account")
def install_service_account() -> None:
    confinement = host_spec().unit.confinement
    if confinement is None:
        return
    groups = (
        host.get_fact(GroupIds, groups=list(confinement.supplementary_groups))
        if confinement.supplementary_groups
        else {}
    )
    server.group(name=f"Group {confinement.user}", group=confinement.user, system=True)
    server.user(
        name=f"Account {confinement.user} (runs the server)",
        user=confinement.user,
        group=confinement.user,
        groups=sorted(groups),
        system=True,
        home=confinement.home,
        shell="/usr/sbin/nologin",
        create_home=True,
    )


def own_data_folders(folders: tuple[str, ...], *, after=None) -> None:
    """Give the service account what the deploy (as root) put in its folders: downloaded
    weights, an earlier runtime's caches. Checked, not repeated: only when something under them
    belongs to another account."""
    confinement = host_spec().unit.confinement
    if confinement is None:
        return
    user = confinement.user
    quoted = " ".join(shlex.quote(f) for f in folders)
    foreign = _not_owned_by(user, quoted)
    command = f"chown -R {user}:{user} {quoted}"
    if foreign:
        # Named in the output: on a host already deployed, this change means something writes
        # into the server's folders as another account, and the next run will chown again.
        logger.info(f"    [{host.name}] not {user}'s: {foreign}; giving the folders back")
        server.shell(name=f"{', '.join(folders)} owned by {user}", commands=[command])
    elif after is not None:
        server.shell(
            name=f"{', '.join(folders)} owned by {user} (after the download)",
            commands=[command],
            _if=after.did_change,
        )


def _not_owned_by(user: str, quoted_folders: str) -> str:
    """The first thing under the folders that ``user`` does not own ("owner:group path"), or ""
    when it owns them all.

    Facts are read before any operation runs, so on the first venv deploy the account does not
    exist yet (install_service_account creates it later in the same run). `find ! -user NAME`
    with an unknown NAME is an error, not a match: asked then, the check saw nothing foreign,
    the folders an earlier runtime filled as root stayed root's, and only the second deploy gave
    them to the account (a second run that was not a no-op). An account still to be created owns
    nothing, so everything in the folders is foreign.
    """
    if not host.get_fact(Command, f"id -u {shlex.quote(user)} 2>/dev/null || true"):
        return f"(account {user} created in this run)"
    # Symbolic links (the HF cache's snapshots/ point into blobs/) keep root as owner: their
    # ownership grants nothing, and chown -R leaves them, so they are not counted.
    return host.get_fact(
        Command,
        f"find {quoted_folders} ! -type l ! -user {shlex.quote(user)} "
        "-printf '%u:%g %p\\n' -quit 2>/dev/null || true",
    )
