"""The tool_call_stream verdict: a streamed call's deltas joined by index. The chunks are in the
shape vLLM's OpenAI server streams a call (vllm/entrypoints/openai/protocol.py DeltaToolCall:
index, id and name once, then argument fragments); the live test runs it against real vLLM."""

from __future__ import annotations

import json
from typing import Any

import pytest

from vllm_fleet.smoke.cases import load_cases
from vllm_fleet.smoke.judge import (
    CheckFailed,
    join_tool_call_deltas,
    judge_metrics,
    judge_tool_call_stream,
)
from vllm_fleet.smoke.metrics import parse_metrics

CASE = load_cases().tool_call


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None) -> dict[str, Any]:
    return {
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": delta or {}, "finish_reason": finish}],
    }


def call_chunks(
    arguments: str = '{"city": "Paris"}', pieces: int = 3, index: int = 0, name: str = "get_weather"
) -> list[dict[str, Any]]:
    head = chunk(
        {
            "tool_calls": [
                {
                    "index": index,
                    "id": f"call_{index}",
                    "type": "function",
                    "function": {"name": name, "arguments": ""},
                }
            ]
        }
    )
    size = max(1, len(arguments) // pieces)
    fragments = [arguments[i : i + size] for i in range(0, len(arguments), size)]
    return [head] + [
        chunk({"tool_calls": [{"index": index, "function": {"arguments": part}}]})
        for part in fragments
    ]


def stream(*calls: list[dict[str, Any]], finish: str = "tool_calls") -> list[dict[str, Any]]:
    return [
        chunk({"role": "assistant", "content": ""}),
        *[c for call in calls for c in call],
        chunk(finish=finish),
    ]


@pytest.mark.parametrize("pieces", [1, 2, 5, 17])
def test_a_call_joined_from_any_number_of_fragments_passes(pieces: int) -> None:
    detail = judge_tool_call_stream(stream(call_chunks(pieces=pieces)), True, CASE)
    assert detail.startswith('get_weather({"city": "Paris"}) joined from ')
    assert detail.endswith("finish 'tool_calls', [DONE] seen")


def test_fragments_are_joined_per_index() -> None:
    first, second = call_chunks(index=0), call_chunks('{"city": "Rome"}', index=1)
    interleaved = [c for pair in zip(first, second, strict=True) for c in pair]
    calls = join_tool_call_deltas(interleaved)
    assert [json.loads(c["function"]["arguments"]) for c in calls] == [
        {"city": "Paris"},
        {"city": "Rome"},
    ]
    with pytest.raises(CheckFailed, match="the deltas join into 2 calls"):
        judge_tool_call_stream(stream(interleaved), True, CASE)


FAILURES = [
    (
        "arguments that are not JSON",
        stream(call_chunks('{"city": "Par')),
        True,
        "arguments are not JSON",
    ),
    (
        "arguments missing a required key",
        stream(call_chunks('{"town": "Paris"}')),
        True,
        "arguments do not fit get_weather's parameters",
    ),
    (
        "another tool",
        stream(call_chunks(name="get_time")),
        True,
        "the model called ['get_time'], expected 'get_weather'",
    ),
    (
        "finish reason stop",
        stream(call_chunks(), finish="stop"),
        True,
        "finish_reason 'stop', expected 'tool_calls'",
    ),
    ("no [DONE]", stream(call_chunks()), False, "ended without 'data: [DONE]'"),
    (
        "no call at all",
        stream([chunk({"content": "It is sunny."})], finish="stop"),
        True,
        "streamed: no tool call returned",
    ),
    (
        "the call left in content",
        stream(
            [
                chunk(
                    {
                        "content": "<|tool_calls_section_begin|><|tool_call_begin|>"
                        "functions.get_weather:0"
                    }
                )
            ],
            finish="stop",
        ),
        True,
        "streamed: tool call left in content",
    ),
    ("empty stream", [], True, "the stream carried no chunks"),
]


@pytest.mark.parametrize(
    ("case", "chunks", "done", "message"), FAILURES, ids=[row[0] for row in FAILURES]
)
def test_what_a_client_could_not_use_fails(
    case: str, chunks: list, done: bool, message: str
) -> None:
    with pytest.raises(CheckFailed, match=message.replace("[", r"\[").replace("(", r"\(")):
        judge_tool_call_stream(chunks, done, CASE)


ROUTER_BEFORE = "vllm_router_active_workers 2\n"
ROUTER_AFTER = (
    "vllm_router_active_workers 2\n"
    'vllm_router_processed_requests_total{worker="http://h1:8000"} 3\n'
    'vllm_router_processed_requests_total{worker="http://h2:8000"} 4\n'
)


def test_a_routers_metrics_pass_when_its_workers_processed_requests() -> None:
    detail = judge_metrics(
        parse_metrics(ROUTER_BEFORE), parse_metrics(ROUTER_AFTER), "kimi-tiny", True
    )
    assert detail == "router series present, 2 active workers; processed requests +7"


def test_a_router_without_active_workers_or_growth_fails() -> None:
    no_workers = ROUTER_AFTER.replace(
        "vllm_router_active_workers 2", "vllm_router_active_workers 0"
    )
    with pytest.raises(CheckFailed, match="no active worker"):
        judge_metrics(None, parse_metrics(no_workers), "kimi-tiny", True)
    with pytest.raises(CheckFailed, match="did not grow"):
        judge_metrics(parse_metrics(ROUTER_AFTER), parse_metrics(ROUTER_AFTER), "kimi-tiny", True)
