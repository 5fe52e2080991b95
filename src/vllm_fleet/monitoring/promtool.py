"""promtool (Debian's `prometheus` package ships it) on the controller: check the generated
config, the rule files and the dashboards' queries; run the rules' unit tests."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import yaml

from vllm_fleet.errors import FleetError
from vllm_fleet.monitoring.dashboards import Dashboard, checkable_queries
from vllm_fleet.paths import MONITORING_DIR

RULES_DIR = MONITORING_DIR / "rules"


class PromtoolError(FleetError):
    """promtool rejected a file; the message is promtool's own output."""


def promtool() -> str:
    found = shutil.which("promtool")
    if not found:
        raise FleetError(
            "promtool not found: install Debian's `prometheus` package "
            "(scripts/host-prereqs.sh does)"
        )
    return found


def run(*args: str, cwd: Path | None = None) -> str:
    """promtool ARGS; its output, or PromtoolError carrying it when it fails."""
    proc = subprocess.run([promtool(), *args], cwd=cwd, capture_output=True, text=True, timeout=120)
    output = (proc.stdout + proc.stderr).strip()
    if proc.returncode != 0:
        raise PromtoolError(f"promtool {' '.join(args)}: {output}")
    return output


def rule_files() -> list[Path]:
    return sorted(RULES_DIR.glob("*.rules.yml"))


def rule_tests() -> list[Path]:
    return sorted(RULES_DIR.glob("*.test.yml"))


def test_rules() -> str:
    return run("test", "rules", *[p.name for p in rule_tests()], cwd=RULES_DIR)


def check_dashboard_queries(dashboard: Dashboard) -> str:
    """Parse every query of ``dashboard`` with promtool (as recording rules)."""
    rules = [
        {"record": f"dashboard:{dashboard.uid.replace('-', '_')}:{n}", "expr": expr}
        for n, expr in enumerate(checkable_queries(dashboard))
    ]
    document = {"groups": [{"name": dashboard.uid, "rules": rules}]}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{dashboard.uid}.yml"
        path.write_text(yaml.safe_dump(document, sort_keys=False))
        try:
            return run("check", "rules", str(path))
        except PromtoolError as err:
            raise PromtoolError(f"{dashboard.path.name}: {err}") from None
