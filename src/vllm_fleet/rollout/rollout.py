"""``invoke rollout`` and ``invoke rollback``: a change reaches a fleet one batch of hosts at a
time, each batch taken out of the router first, and the rollout stops at the first host whose
ready gate fails (that host has already gone back to what it ran; the rest are not touched).

For each batch (at most ``max_unavailable`` hosts of a pool): drain each host through its
routers, wait for its in-flight requests to finish, run the operator's own deploy on the batch
(``pyinfra INVENTORY deploy/serve.py --limit HOST``, whose ready gate runs health and smoke and
whose failure rolls the host back), then undrain. Hosts that do not serve yet, and hosts whose
record says nothing changes, are deployed together first: neither takes capacity away.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from vllm_fleet.deploy.ready import GATE_FAILED
from vllm_fleet.deploy.rolling import ROLLOUT_ADVICE
from vllm_fleet.errors import FleetError
from vllm_fleet.paths import REPO_ROOT
from vllm_fleet.progress import stream_command
from vllm_fleet.pyinfra_run import pyinfra_executable
from vllm_fleet.rollout.changes import (
    HostChange,
    inventory_hosts,
    parse_data_options,
    read_changes,
)
from vllm_fleet.rollout.drain import Drainer
from vllm_fleet.serving.inventory import select_host
from vllm_fleet.serving.pools import check_restart_budgets, restart_batches

Log = Callable[[str], None]
SERVE_DEPLOY = "deploy/serve.py"
ROLLBACK_DEPLOY = "deploy/rollback.py"
OUTPUT_LINES_KEPT = 40


class RolloutError(FleetError):
    """A rollout or rollback stopped: the host, what failed, pyinfra's last lines."""


@dataclass
class RolloutReport:
    """What a rollout did, host by host."""

    restarted: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    seconds_per_host: dict[str, float] = field(default_factory=dict)  # drain to back in


@dataclass
class Rollout:
    """One rollout (or rollback) of ``inventory`` with pyinfra ``--data`` options ``data``."""

    inventory: Path
    data: tuple[str, ...] = ()
    log: Log = print
    report: RolloutReport = field(default_factory=RolloutReport)

    def __post_init__(self) -> None:
        self.hosts = inventory_hosts(self.inventory, parse_data_options(self.data))
        check_restart_budgets(self.hosts)
        self.drainer = Drainer(self.inventory, self.hosts, self.log)

    def roll_out(self) -> RolloutReport:
        changes = read_changes(self.inventory, self.hosts)
        for change in changes:
            self.log(f"{change.name}: {change.describe()}")
        at_once = [c for c in changes if not c.restarts]
        if at_once and not self._deploy_at_once(at_once):
            # A restart the records cannot see (a rotated API key): these roll one by one too.
            at_once = [c for c in at_once if not c.serving]
            if at_once:
                self._deploy_at_once(at_once, fallback=False)
        rolling = [c for c in changes if c not in at_once]
        self._roll(rolling, SERVE_DEPLOY)
        return self.report

    def roll_back(self, host: str | None = None) -> RolloutReport:
        changes = read_changes(self.inventory, self.hosts)
        if host is not None:
            select_host(self.hosts, host, str(self.inventory))
            changes = [c for c in changes if c.name == host]
        missing = [c.name for c in changes if c.record.previous is None]
        if missing:
            raise RolloutError(
                f"no previous version recorded on {', '.join(missing)} (state_dir "
                "state.json): nothing to roll back to; nothing was changed"
            )
        self._roll(changes, ROLLBACK_DEPLOY)
        return self.report

    def _deploy_at_once(self, changes: list[HostChange], fallback: bool = True) -> bool:
        """Deploy hosts that take no capacity away in one run; False when the deploy refused
        because some would restart after all (and ``fallback`` lets them roll instead)."""
        names = [c.name for c in changes]
        returncode, output = self._pyinfra(SERVE_DEPLOY, names)
        if returncode == 0:
            for change in changes:
                (self.report.unchanged if change.serving else self.report.started).append(
                    change.name
                )
            return True
        if fallback and any(ROLLOUT_ADVICE in line for line in output):
            self.log(f"{', '.join(names)}: would restart after all; rolling them one by one")
            return False
        raise RolloutError(failure_message(names, "deploy", output))

    def _roll(self, changes: list[HostChange], deploy_file: str) -> None:
        by_name = {c.name: c for c in changes}
        batches = restart_batches(list(by_name), self.hosts)
        for index, batch in enumerate(batches):
            started = time.monotonic()
            for name in batch:
                self.drainer.drain(name)
            for name in batch:
                self.drainer.wait_idle(name, by_name[name].spec)
            returncode, output = self._pyinfra(deploy_file, batch)
            for name in batch:  # a host whose gate failed has rolled back and serves again
                self.drainer.undrain(name)
            if returncode != 0:
                untouched = [n for b in batches[index + 1 :] for n in b]
                raise RolloutError(failure_message(batch, deploy_file, output, untouched))
            seconds = time.monotonic() - started
            for name in batch:
                self.report.restarted.append(name)
                self.report.seconds_per_host[name] = seconds
                self.log(f"{name}: done in {seconds:.0f} s")

    def _pyinfra(self, deploy_file: str, names: list[str]) -> tuple[int, list[str]]:
        """Run ``deploy_file`` on ``names``, its output logged; its exit code and output."""
        argv = [pyinfra_executable(), str(self.inventory), deploy_file, "-y"]
        for name in names:
            argv += ["--limit", name]
        for option in self.data:
            argv += ["--data", option]
        self.log(f"$ pyinfra {shlex.join(argv[1:])}")
        output: list[str] = []

        def show(line: str) -> None:
            output.append(line)
            self.log(line)

        return stream_command(argv, show, cwd=REPO_ROOT), output


def failure_message(
    names: list[str], what: str, output: list[str], untouched: list[str] | None = None
) -> str:
    left = f"; not reached, untouched: {', '.join(untouched)}" if untouched else ""
    return f"{what} failed on {', '.join(names)}{left}:\n" + "\n".join(_reason(output))


def _reason(output: list[str]) -> list[str]:
    """The failed ready gate's message (stage, rollback, journal lines) where pyinfra printed
    it, else pyinfra's last lines."""
    start = next((i for i, line in enumerate(output) if GATE_FAILED in line), None)
    if start is None:
        return output[-OUTPUT_LINES_KEPT:]
    message = output[start:]
    end = next((i for i, line in enumerate(message) if not line.strip()), len(message))
    return [message[0][message[0].index(GATE_FAILED) :], *message[1:end]]
