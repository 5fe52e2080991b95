"""Pools and their restart budget: which max_unavailable is an error (naming the file and the
key), and how a rollout batches hosts so that no pool has more than its budget out."""

from __future__ import annotations

import pytest

from vllm_fleet.errors import ConfigError
from vllm_fleet.serving.inventory import HostData
from vllm_fleet.serving.pools import check_restart_budgets, restart_batches, serving_pools

GROUP = "inventory/group_data/h200.py"


def _host(name: str, model: str | None = "kimi-k2-thinking", **data) -> HostData:
    values = {"model": model, **data} if model else data
    return HostData(name, values, dict.fromkeys(data, GROUP), default_source="inventory/prod.py")


def test_each_pool_is_the_hosts_serving_one_model() -> None:
    hosts = [_host("a"), _host("router", model=None), _host("b"), _host("c", model="kimi-tiny")]
    pools = serving_pools(hosts)
    assert {pool: [h.name for h in members] for pool, members in pools.items()} == {
        "kimi-k2-thinking": ["a", "b"],
        "kimi-tiny": ["c"],
    }


def test_a_budget_as_large_as_the_pool_is_an_error_naming_the_file() -> None:
    hosts = [_host(name, max_unavailable=3) for name in ("a", "b", "c")]
    with pytest.raises(ConfigError) as raised:
        check_restart_budgets(hosts)
    assert str(raised.value) == (
        f"{GROUP}: max_unavailable: 3 on a would take every host of pool 'kimi-k2-thinking' "
        "(3 hosts) out at once; use 1 to 2, or set allow_pool_down = true if the pool may go "
        "fully down"
    )


@pytest.mark.parametrize(
    "hosts",
    [
        [_host(n, max_unavailable=3, allow_pool_down=True) for n in ("a", "b", "c")],
        [_host(n, max_unavailable=2) for n in ("a", "b", "c")],
        [_host("only", max_unavailable=5)],  # one host: a restart takes it out anyway
    ],
    ids=["pool may go down", "below the pool size", "a pool of one"],
)
def test_budgets_that_leave_a_host_serving_or_say_so_pass(hosts: list[HostData]) -> None:
    check_restart_budgets(hosts)


def test_batches_take_at_most_each_pools_budget_out() -> None:
    hosts = [
        _host("a1"),
        _host("a2"),
        _host("a3"),
        _host("b1", model="kimi-tiny", max_unavailable=2),
        _host("b2", model="kimi-tiny", max_unavailable=2),
        _host("b3", model="kimi-tiny", max_unavailable=2),
    ]
    names = [h.name for h in hosts]
    assert restart_batches(names, hosts) == [["a1", "b1", "b2"], ["a2", "b3"], ["a3"]]
