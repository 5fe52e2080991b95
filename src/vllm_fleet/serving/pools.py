"""Pools: the serving hosts that stand in for one another (every host serving one model), and how
many of each may be out at once (host data ``max_unavailable``).

A deploy and ``invoke rollout`` both read this: a deploy refuses to restart more than the budget
of one pool together, and a rollout restarts the pool in batches of at most the budget.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from vllm_fleet.errors import ConfigError, FleetError
from vllm_fleet.hostdata import settings_for
from vllm_fleet.serving.inventory import HostData


def pool_of(host: HostData) -> str | None:
    """The pool ``host`` belongs to: the model it serves (None: it serves none)."""
    return settings_for(host).model


def serving_pools(hosts: Iterable[HostData]) -> dict[str, list[HostData]]:
    """Each pool and its hosts, in inventory order. A host whose data does not check is left
    out: its own plan or deploy says why."""
    pools: dict[str, list[HostData]] = {}
    for host in hosts:
        try:
            pool = pool_of(host)
        except FleetError:
            continue
        if pool is not None:
            pools.setdefault(pool, []).append(host)
    return pools


def restart_budget(members: Sequence[HostData]) -> int:
    """How many hosts of a pool may be out at once: the smallest max_unavailable its hosts set."""
    return min(settings_for(h).max_unavailable for h in members)


def check_restart_budgets(hosts: Iterable[HostData]) -> None:
    """A max_unavailable that would take a whole pool of two or more hosts out at once is an
    error, unless the host says the pool may go fully down (``allow_pool_down``)."""
    for pool, members in serving_pools(hosts).items():
        if len(members) < 2:
            continue  # one host: a restart takes it out whatever the budget
        for host in members:
            settings = settings_for(host)
            if settings.max_unavailable >= len(members) and not settings.allow_pool_down:
                raise ConfigError(
                    host.source("max_unavailable"),
                    "max_unavailable",
                    f"{settings.max_unavailable} on {host.name} would take every host of pool "
                    f"{pool!r} ({len(members)} hosts) out at once; use 1 to "
                    f"{len(members) - 1}, or set allow_pool_down = true if the pool may go "
                    "fully down",
                )


def restart_batches(names: Sequence[str], hosts: Iterable[HostData]) -> list[list[str]]:
    """``names`` (serving hosts, in order) in batches that take at most each pool's budget out."""
    pools = serving_pools(hosts)
    pool_by_host = {h.name: pool for pool, members in pools.items() for h in members}
    budgets = {pool: restart_budget(members) for pool, members in pools.items()}
    batches: list[list[str]] = []
    for name in names:
        pool = pool_by_host[name]
        batch = next(
            (b for b in batches if sum(pool_by_host[n] == pool for n in b) < budgets[pool]),
            None,
        )
        if batch is None:
            batches.append([name])
        else:
            batch.append(name)
    return batches
