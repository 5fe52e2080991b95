"""The report's three shapes: --json (every check by name), --junit (JUnit XML), the table."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from rich.console import Console

from vllm_fleet.smoke import CHECK_NAMES, CheckResult, SmokeReport


def report() -> SmokeReport:
    checks = [
        CheckResult(name, True, f"{name} fine", 0.01 * i) for i, name in enumerate(CHECK_NAMES)
    ]
    checks[6] = CheckResult(
        "tool_call",
        False,
        "tool call left in content: '<|tool_calls_section_begin|>...' [see <flags> & fix]",
        0.25,
    )
    return SmokeReport(
        url="http://127.0.0.1:8000",
        model="kimi-tiny",
        checks=checks,
        seconds=1.5,
        waited=0.5,
        server_version="0.32.0",
    )


def test_passed_only_when_every_check_passed() -> None:
    assert not report().passed
    assert [c.name for c in report().failed] == ["tool_call"]
    assert SmokeReport(url="u", model="m", checks=[CheckResult("health", True, "", 0)]).passed
    assert not SmokeReport(url="u", model="m").passed  # nothing ran: nothing proven


def test_json_lists_every_check_by_name(tmp_path: Path) -> None:
    data = json.loads(report().write_json(tmp_path / "r.json").read_text())
    assert list(data["checks"]) == list(CHECK_NAMES)
    for check in data["checks"].values():
        assert set(check) == {"passed", "detail", "seconds"}
    assert data["checks"]["tool_call"] == {
        "passed": False,
        "seconds": 0.25,
        "detail": "tool call left in content: '<|tool_calls_section_begin|>...' "
        "[see <flags> & fix]",
    }
    assert data["passed"] is False and data["server_version"] == "0.32.0"
    assert data["url"] == "http://127.0.0.1:8000" and data["model"] == "kimi-tiny"


def test_junit_has_one_testcase_per_check_and_a_failure_with_the_detail(tmp_path: Path) -> None:
    root = ET.parse(report().write_junit(tmp_path / "r.xml")).getroot()
    suite = root.find("testsuite")
    assert suite is not None
    assert suite.get("tests") == str(len(CHECK_NAMES)) and suite.get("failures") == "1"
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == list(CHECK_NAMES)
    failed = [c for c in cases if c.find("failure") is not None]
    assert [c.get("name") for c in failed] == ["tool_call"]
    failure = failed[0].find("failure")
    assert failure is not None and failure.get("message", "").startswith("tool call left in")
    assert failed[0].get("time") == "0.250"
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props == {
        "url": "http://127.0.0.1:8000",
        "model": "kimi-tiny",
        "server_version": "0.32.0",
    }


def test_table_shows_details_verbatim() -> None:
    """Details hold brackets and markers; the table must not read them as rich markup."""
    console = Console(record=True, width=200)
    console.print(report().table())
    text = console.export_text()
    assert "[see <flags> & fix]" in text
    assert "FAIL" in text and "1 failed" in text
    assert all(name in text for name in CHECK_NAMES)
