"""The smoke-case file: the repository's default is valid, and every broken file in
bad_cases/ fails with one line naming the file and the field (its first line says which)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vllm_fleet.errors import ConfigError
from vllm_fleet.smoke.argschema import schema_problems
from vllm_fleet.smoke.cases import DEFAULT_CASES, DEFAULT_MAX_TOKENS, load_cases

BAD_CASES = sorted((Path(__file__).parent / "bad_cases").glob("*.yaml"))


def test_default_cases_load_and_name_a_tool_they_offer() -> None:
    cases = load_cases()
    assert cases.path == DEFAULT_CASES
    assert cases.chat.messages and cases.reasoning.messages
    assert cases.tool_call.tool()["name"] == cases.tool_call.expect_tool
    assert cases.tool_call.tool()["parameters"]["type"] == "object"


def test_default_tool_result_keeps_file_order_in_json() -> None:
    """The follow-up's tool message is json.dumps(tool_result): keys in the file's order."""
    text = DEFAULT_CASES.read_text()
    result = load_cases().tool_call.tool_result
    keys = list(result)
    positions = [text.index(f"{key}:", text.index("tool_result:")) for key in keys]
    assert positions == sorted(positions)
    assert json.dumps(result).startswith('{"' + keys[0])


def test_default_tool_result_satisfies_the_tools_schema_where_it_overlaps() -> None:
    """The tiny model takes its call's arguments from tool_result; they must fit the schema."""
    tc = load_cases().tool_call
    params = tc.tool()["parameters"]
    args = {k: v for k, v in tc.tool_result.items() if k in params.get("properties", {})}
    assert args and schema_problems(args, params) == []


def test_max_tokens_defaults_when_left_out(tmp_path: Path) -> None:
    text = DEFAULT_CASES.read_text().replace("  max_tokens: 4096\n", "")
    path = tmp_path / "cases.yaml"
    path.write_text(text)
    cases = load_cases(path)
    assert "max_tokens: " not in text
    assert cases.chat.max_tokens == cases.tool_call.max_tokens == DEFAULT_MAX_TOKENS


@pytest.mark.parametrize("path", BAD_CASES, ids=[p.stem for p in BAD_CASES])
def test_broken_case_file_names_file_and_field(path: Path) -> None:
    expected = path.read_text().splitlines()[0].removeprefix("# error: ")
    with pytest.raises(ConfigError) as caught:
        load_cases(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: "), message
    assert expected in message, message
    assert "\n" not in message


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.yaml: file not found"):
        load_cases(tmp_path / "nope.yaml")
