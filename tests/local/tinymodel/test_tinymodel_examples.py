"""The trainer's pure half: the conversations it learns and the chat template's rendering.

The template is rendered here with jinja2 set up as transformers sets it up (trim_blocks,
lstrip_blocks, its own tojson): what vLLM sends for the follow-up turn, in every shape vLLM or a
client may give it, must render exactly like the training conversation, or the tiny model sees a
prompt it never learned.
"""

from __future__ import annotations

import json
from typing import Any

import jinja2.ext
import pytest
from jinja2.sandbox import ImmutableSandboxedEnvironment

from vllm_fleet.local.tinymodel import train
from vllm_fleet.smoke.argschema import schema_problems
from vllm_fleet.smoke.cases import load_cases

CASES = load_cases()
DATA = CASES.as_json_data()


def render(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> str:
    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols]
    )
    env.filters["tojson"] = lambda x, **kw: json.dumps(x, ensure_ascii=False, **kw)
    return env.from_string(train.CHAT_TEMPLATE).render(
        messages=messages, tools=tools, add_generation_prompt=True
    )


def example(name: str) -> train.Example:
    return next(ex for ex in train.build_examples(DATA) if ex.name == name)


def test_examples_cover_every_request_the_suite_sends() -> None:
    names = [ex.name for ex in train.build_examples(DATA)]
    # chat and reasoning send the same question: learned once
    assert names == ["chat", "tool_call", "tool_result", "chat_with_tools", "extra:Hello"]
    assert example("chat").messages == CASES.chat.messages == CASES.reasoning.messages


def test_every_target_thinks_first_and_ends_with_eos() -> None:
    for ex in train.build_examples(DATA):
        assert ex.target.startswith("<think>") and "</think>" in ex.target, ex.name
        assert ex.target.endswith(train.EOS), ex.name


def test_tool_call_target_is_kimis_syntax_with_arguments_that_fit_the_schema() -> None:
    target = example("tool_call").target
    name = CASES.tool_call.expect_tool
    head = (
        f"<|tool_calls_section_begin|><|tool_call_begin|>functions.{name}:0"
        "<|tool_call_argument_begin|>"
    )
    assert head in target
    args = json.loads(target.split("<|tool_call_argument_begin|>")[1].split("<|tool_call_end|>")[0])
    assert schema_problems(args, CASES.tool_call.tool()["parameters"]) == []
    assert args == {"city": "Paris"}  # valued from tool_result


def test_follow_up_renders_as_kimi_would_see_it() -> None:
    ex = example("tool_result")
    assert render(ex.messages, ex.tools) == (
        "<|im_system|>tool_declare<|im_middle|>get_weather: Get the current weather for a city. "
        '{"type": "object", "properties": {"city": {"type": "string", "description": '
        '"City name"}}, "required": ["city"]}<|im_end|>'
        "<|im_system|>system<|im_middle|>You are Kimi, an AI assistant created by Moonshot AI."
        "<|im_end|><|im_user|>user<|im_middle|>What is the weather in Paris?<|im_end|>"
        "<|im_assistant|>assistant<|im_middle|><|tool_calls_section_begin|><|tool_call_begin|>"
        'functions.get_weather:0<|tool_call_argument_begin|>{"city": "Paris"}<|tool_call_end|>'
        "<|tool_calls_section_end|><|im_end|>"
        '<|im_system|>tool<|im_middle|>{"city": "Paris", "temperature_c": 22, '
        '"condition": "sunny"}<|im_end|>'
        "<|im_assistant|>assistant<|im_middle|>"
    )


def vllm_shaped(
    messages: list[dict[str, Any]], *, arguments_as_text: bool, content: str | None
) -> list[dict[str, Any]]:
    """The follow-up as it reaches the template from vLLM: the smoke client's message (content
    as returned, arguments as a JSON string, any id, reasoning kept)."""
    shaped = json.loads(json.dumps(messages))
    assistant, tool = shaped[-2], shaped[-1]
    assistant["content"] = content
    assistant["reasoning"] = "I should call the get_weather tool."
    for call in assistant["tool_calls"]:
        call["id"] = "chatcmpl-tool-0123"
        if arguments_as_text:
            call["function"]["arguments"] = json.dumps(call["function"]["arguments"])
    tool["tool_call_id"] = "chatcmpl-tool-0123"
    return shaped


@pytest.mark.parametrize("arguments_as_text", [True, False])
@pytest.mark.parametrize("content", [None, ""])
def test_follow_up_renders_the_same_whatever_shape_vllm_hands_over(
    arguments_as_text: bool, content: str | None
) -> None:
    ex = example("tool_result")
    # vLLM passes tools as tool.model_dump(): extra keys with null values
    dumped = [
        {**t, "function": {**t["function"], "strict": None}, "defer_loading": None}
        for t in ex.tools or []
    ]
    shaped = vllm_shaped(ex.messages, arguments_as_text=arguments_as_text, content=content)
    assert render(shaped, dumped) == render(ex.messages, ex.tools)


def test_plain_question_has_no_tool_declaration() -> None:
    text = render(example("chat").messages, None)
    assert "tool_declare" not in text
    assert text.endswith(
        "<|im_user|>user<|im_middle|>What is 2+2?<|im_end|><|im_assistant|>assistant<|im_middle|>"
    )


def test_template_reads_content_as_a_string_only() -> None:
    """vLLM picks the 'string' content format when the template never loops over content; a
    loop would make it hand over lists of parts instead."""
    assert "for" not in train.CHAT_TEMPLATE.split("plain(content)")[1].split("endmacro")[0]
    assert "message.content %" not in train.CHAT_TEMPLATE
