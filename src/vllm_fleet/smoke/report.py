"""The smoke suite's result: per check name, passed, detail, seconds; as a table, JSON or JUnit.

JSON is for scripts and the deploy's ready gate; JUnit XML is for CI systems and cron monitors
that already read test reports; the table is for the operator at the terminal.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.table import Table


@dataclass(frozen=True)
class CheckResult:
    """One check's outcome. ``detail`` says why it failed, or what was seen when it passed."""

    name: str
    passed: bool
    detail: str
    seconds: float


@dataclass
class SmokeReport:
    """Every selected check against one endpoint, in the order they ran."""

    url: str
    model: str
    checks: list[CheckResult] = field(default_factory=list)
    seconds: float = 0.0  # wall time of the whole run, waiting included
    waited: float = 0.0  # of which spent waiting for /health (--wait)
    server_version: str | None = None

    @property
    def passed(self) -> bool:
        """True when every selected check passed (and at least one ran)."""
        return bool(self.checks) and all(check.passed for check in self.checks)

    @property
    def failed(self) -> list[CheckResult]:
        return [check for check in self.checks if not check.passed]

    def check(self, name: str) -> CheckResult:
        """The result of the check called ``name`` (KeyError if it did not run)."""
        for result in self.checks:
            if result.name == name:
                return result
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``--json``: the run, then every check by name."""
        return {
            "url": self.url,
            "model": self.model,
            "server_version": self.server_version,
            "passed": self.passed,
            "seconds": round(self.seconds, 3),
            "waited": round(self.waited, 3),
            "checks": {
                c.name: {k: v for k, v in asdict(c).items() if k != "name"}
                | {"seconds": round(c.seconds, 3)}
                for c in self.checks
            },
        }

    def write_json(self, path: Path | str) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        return path

    def to_junit(self) -> str:
        """JUnit XML: one testsuite, one testcase per check, a <failure> with the detail."""
        suites = ET.Element("testsuites")
        suite = ET.SubElement(
            suites,
            "testsuite",
            {
                "name": "vllm-fleet smoke",
                "tests": str(len(self.checks)),
                "failures": str(len(self.failed)),
                "errors": "0",
                "skipped": "0",
                "time": f"{self.seconds:.3f}",
            },
        )
        props = ET.SubElement(suite, "properties")
        for key in ("url", "model", "server_version"):
            ET.SubElement(props, "property", {"name": key, "value": str(getattr(self, key))})
        for check in self.checks:
            case = ET.SubElement(
                suite,
                "testcase",
                {
                    "classname": f"smoke.{self.model}",
                    "name": check.name,
                    "time": f"{check.seconds:.3f}",
                },
            )
            if check.passed:
                ET.SubElement(case, "system-out").text = check.detail
            else:
                failure = ET.SubElement(case, "failure", {"message": check.detail})
                failure.text = check.detail
        ET.indent(suites)
        return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"

    def write_junit(self, path: Path | str) -> Path:
        path = Path(path)
        path.write_text(self.to_junit())
        return path

    def table(self) -> Table:
        """A rich table for the terminal: check, result, seconds, detail."""
        verdict = "[green]all passed[/]" if self.passed else f"[red]{len(self.failed)} failed[/]"
        table = Table(
            title=f"smoke {escape(self.url)} · {escape(self.model)} · {verdict} in "
            f"{self.seconds:.1f} s",
            title_justify="left",
        )
        table.add_column("check")
        table.add_column("result")
        table.add_column("s", justify="right")
        table.add_column("detail", overflow="fold")
        for check in self.checks:
            mark = "[green]pass[/]" if check.passed else "[red]FAIL[/]"
            table.add_row(check.name, mark, f"{check.seconds:.2f}", escape(check.detail))
        return table
