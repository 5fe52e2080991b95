"""The smoke cases: what the checks send, read from YAML (``smoke/cases.yaml`` by default).

Prompts and tools are data, not literals in code: the same file drives the live checks and the
CI tiny model's training (src/vllm_fleet/tinymodel/), so they cannot drift apart. Validation is
strict and names the file and field, before any request is sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vllm_fleet.errors import ConfigError
from vllm_fleet.paths import SMOKE_DIR
from vllm_fleet.schema import Field, check_fields, load_yaml

DEFAULT_CASES = SMOKE_DIR / "cases.yaml"
# Room for a thinking model to finish thinking; lowered to the server's max_model_len if smaller.
DEFAULT_MAX_TOKENS = 4096
ROLES = ("system", "user", "assistant", "tool")

_CHAT_FIELDS = {"messages": Field(list), "max_tokens": Field(int, required=False)}
_TOOL_CALL_FIELDS = {
    "messages": Field(list),
    "tools": Field(list),
    "expect_tool": Field(str),
    "tool_result": Field(dict),
    "max_tokens": Field(int, required=False),
}
_TOP_FIELDS = {"chat": Field(dict), "reasoning": Field(dict), "tool_call": Field(dict)}
_MESSAGE_FIELDS = {"role": Field(str), "content": Field(str), "name": Field(str, required=False)}
_TOOL_FIELDS = {"type": Field(str), "function": Field(dict)}
_FUNCTION_FIELDS = {
    "name": Field(str),
    "description": Field(str, required=False),
    "parameters": Field(dict),
    "strict": Field(bool, required=False),
}


@dataclass(frozen=True)
class ChatCase:
    """A conversation to complete (``chat``, ``stream`` and ``reasoning`` checks)."""

    messages: list[dict[str, Any]]
    max_tokens: int = DEFAULT_MAX_TOKENS


@dataclass(frozen=True)
class ToolCallCase:
    """A conversation that should end in a call of ``expect_tool``, and the result to send back.

    The follow-up turn's tool message is ``json.dumps(tool_result)``, keys in file order.
    """

    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    expect_tool: str
    tool_result: dict[str, Any]
    max_tokens: int = DEFAULT_MAX_TOKENS

    def tool(self) -> dict[str, Any]:
        """The function definition of ``expect_tool`` (its ``parameters`` is the JSON schema)."""
        return next(t["function"] for t in self.tools if t["function"]["name"] == self.expect_tool)


@dataclass(frozen=True)
class SmokeCases:
    """Every case of one file."""

    path: Path
    chat: ChatCase
    reasoning: ChatCase
    tool_call: ToolCallCase

    def as_json_data(self) -> dict[str, Any]:
        """The cases as plain data (what the tiny model's trainer reads)."""
        tc = self.tool_call
        return {
            "chat": {"messages": self.chat.messages, "max_tokens": self.chat.max_tokens},
            "reasoning": {
                "messages": self.reasoning.messages,
                "max_tokens": self.reasoning.max_tokens,
            },
            "tool_call": {
                "messages": tc.messages,
                "tools": tc.tools,
                "expect_tool": tc.expect_tool,
                "tool_result": tc.tool_result,
                "max_tokens": tc.max_tokens,
            },
        }


def load_cases(path: Path | str = DEFAULT_CASES) -> SmokeCases:
    """Read and validate a smoke-case file; raise ConfigError naming file and field.

    Example: ``smoke/cases.yaml: tool_call.expect_tool: unknown tool 'get_wether'; the case's
    tools are: get_weather``
    """
    path = Path(path)
    data = check_fields(path, "", load_yaml(path), _TOP_FIELDS)
    return SmokeCases(
        path=path,
        chat=_chat_case(path, "chat", data["chat"]),
        reasoning=_chat_case(path, "reasoning", data["reasoning"]),
        tool_call=_tool_call_case(path, data["tool_call"]),
    )


def _chat_case(path: Path, where: str, data: Any) -> ChatCase:
    check_fields(path, where, data, _CHAT_FIELDS)
    return ChatCase(
        messages=_messages(path, f"{where}.messages", data["messages"]),
        max_tokens=_max_tokens(path, where, data),
    )


def _tool_call_case(path: Path, data: Any) -> ToolCallCase:
    check_fields(path, "tool_call", data, _TOOL_CALL_FIELDS)
    tools = _tools(path, "tool_call.tools", data["tools"])
    names = [t["function"]["name"] for t in tools]
    if data["expect_tool"] not in names:
        raise ConfigError(
            path,
            "tool_call.expect_tool",
            f"unknown tool {data['expect_tool']!r}; the case's tools are: {', '.join(names)}",
        )
    return ToolCallCase(
        messages=_messages(path, "tool_call.messages", data["messages"]),
        tools=tools,
        expect_tool=data["expect_tool"],
        tool_result=data["tool_result"],
        max_tokens=_max_tokens(path, "tool_call", data),
    )


def _messages(path: Path, where: str, messages: list[Any]) -> list[dict[str, Any]]:
    if not messages:
        raise ConfigError(path, where, "empty; give at least one message")
    for i, message in enumerate(messages):
        check_fields(path, f"{where}[{i}]", message, _MESSAGE_FIELDS)
        if message["role"] not in ROLES:
            raise ConfigError(
                path,
                f"{where}[{i}].role",
                f"unknown role {message['role']!r}; valid: {', '.join(ROLES)}",
            )
    return messages


def _tools(path: Path, where: str, tools: list[Any]) -> list[dict[str, Any]]:
    if not tools:
        raise ConfigError(path, where, "empty; give the tool the model should call")
    for i, tool in enumerate(tools):
        check_fields(path, f"{where}[{i}]", tool, _TOOL_FIELDS)
        if tool["type"] != "function":
            raise ConfigError(
                path, f"{where}[{i}].type", f"unsupported {tool['type']!r}; valid: function"
            )
        check_fields(path, f"{where}[{i}].function", tool["function"], _FUNCTION_FIELDS)
        params = tool["function"]["parameters"]
        if params.get("type") != "object":
            raise ConfigError(
                path,
                f"{where}[{i}].function.parameters.type",
                f"expected 'object' (a JSON schema for the arguments), got {params.get('type')!r}",
            )
    return tools


def _max_tokens(path: Path, where: str, data: dict[str, Any]) -> int:
    value = data.get("max_tokens", DEFAULT_MAX_TOKENS)
    if value < 1:
        raise ConfigError(path, f"{where}.max_tokens", f"must be at least 1, got {value}")
    return value
