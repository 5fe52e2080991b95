"""The checks' verdicts on answers recorded from real vLLM 0.32.0 serving the tiny Kimi-format
model (recorded/*.json say with which flags). Rows marked "derived" change one field of a
recorded answer to a shape vLLM is documented to return (a max_tokens cut, a bad argument)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from vllm_fleet.smoke.cases import load_cases
from vllm_fleet.smoke.judge import (
    CheckFailed,
    judge_auth,
    judge_chat,
    judge_metrics,
    judge_models,
    judge_reasoning,
    judge_stream,
    judge_tool_call,
    judge_tool_result,
    parse_sse,
)
from vllm_fleet.smoke.metrics import Sample, parse_metrics, total

RECORDED = Path(__file__).parent / "recorded"
CASES = load_cases()


def recorded(name: str) -> dict[str, Any]:
    return json.loads((RECORDED / f"{name}.json").read_text())["response"]


def stream_lines() -> list[str]:
    return json.loads((RECORDED / "good_stream.json").read_text())["sse"].splitlines()


# ---- chat and reasoning ----


def test_good_chat_passes_and_shows_the_answer() -> None:
    response = recorded("good_chat")
    detail = judge_chat(response, 400)
    assert response["choices"][0]["message"]["content"] in detail


def test_good_answer_passes_reasoning_from_the_reasoning_field() -> None:
    detail = judge_reasoning(recorded("good_chat"), 400)
    assert detail.startswith("reasoning: ")


def test_older_reasoning_content_field_is_accepted() -> None:
    """derived: vLLM 0.11-0.13 also (or only) sent reasoning_content."""
    response = copy.deepcopy(recorded("good_chat"))
    message = response["choices"][0]["message"]
    message["reasoning_content"] = message.pop("reasoning")
    assert judge_reasoning(response, 400).startswith("reasoning_content: ")


def test_without_reasoning_parser_thinking_is_left_in_content() -> None:
    response = recorded("no_reasoning_parser_chat")
    assert judge_chat(response, 400)  # a plain chat client still gets text
    with pytest.raises(
        CheckFailed,
        match=r"no reasoning field; the thinking is left in content: "
        r"'<think>.*--reasoning-parser kimi_k2",
    ):
        judge_reasoning(response, 400)


def test_cut_off_inside_reasoning_fails_naming_max_tokens() -> None:
    """derived: what a small max_tokens does to a thinking model (content null, 'length')."""
    response = copy.deepcopy(recorded("good_chat"))
    choice = response["choices"][0]
    choice["finish_reason"], choice["message"]["content"] = "length", None
    for judge in (judge_chat, judge_reasoning):
        with pytest.raises(CheckFailed, match=r"cut off inside its reasoning by max_tokens=16"):
            judge(response, 16)


def test_usage_that_does_not_add_up_fails() -> None:
    response = copy.deepcopy(recorded("good_chat"))
    response["usage"]["total_tokens"] += 1
    with pytest.raises(CheckFailed, match=r"usage does not add up"):
        judge_chat(response, 400)


def test_empty_answer_fails() -> None:
    response = copy.deepcopy(recorded("good_chat"))
    response["choices"][0]["message"]["content"] = "  "
    with pytest.raises(CheckFailed, match=r"empty answer"):
        judge_chat(response, 400)


# ---- stream ----


def test_good_stream_passes_with_the_same_text_as_the_plain_answer() -> None:
    chunks, done = parse_sse(stream_lines())
    detail = judge_stream(chunks, done, 400)
    assert done and "[DONE] seen" in detail
    assert recorded("good_chat")["choices"][0]["message"]["content"] in detail


def test_stream_verdict_does_not_depend_on_chunk_boundaries() -> None:
    """The same deltas cut differently (one character per chunk) give the same joined answer."""
    chunks, done = parse_sse(stream_lines())
    recut = []
    for chunk in chunks:
        choice = (chunk.get("choices") or [{}])[0]
        text = (choice.get("delta") or {}).get("content") or ""
        if len(text) > 1:
            for char in text:
                recut.append(
                    {"choices": [{"index": 0, "delta": {"content": char}, "finish_reason": None}]}
                )
        else:
            recut.append(chunk)
    assert len(recut) > len(chunks)
    assert judge_stream(recut, done, 400) == judge_stream(chunks, done, 400)


def test_stream_without_done_fails() -> None:
    lines = [line for line in stream_lines() if "[DONE]" not in line]
    chunks, done = parse_sse(lines)
    with pytest.raises(CheckFailed, match=r"ended without 'data: \[DONE\]'"):
        judge_stream(chunks, done, 400)


def test_error_event_inside_the_stream_fails() -> None:
    chunks, done = parse_sse(['data: {"error": {"message": "engine died", "code": 500}}'])
    with pytest.raises(CheckFailed, match=r"error inside the stream: .*engine died"):
        judge_stream(chunks, done, 400)


# ---- tool call ----


def test_good_tool_call_passes_and_builds_the_follow_up_message() -> None:
    response = recorded("good_tool_call")
    verdict = judge_tool_call(response, CASES.tool_call)
    returned = response["choices"][0]["message"]["tool_calls"][0]
    message = verdict.assistant_message
    assert message["role"] == "assistant"
    assert message["tool_calls"][0]["id"] == returned["id"]
    assert message["tool_calls"][0]["function"] == returned["function"]
    assert message["reasoning"] == response["choices"][0]["message"]["reasoning"]
    assert CASES.tool_call.expect_tool in verdict.detail


def test_wrong_tool_parser_leaves_the_call_in_content() -> None:
    with pytest.raises(
        CheckFailed,
        match=r"^tool call left in content: "
        r"'<\|tool_calls_section_begin\|>.*--tool-call-parser kimi_k2",
    ):
        judge_tool_call(recorded("wrong_tool_parser_tool_call"), CASES.tool_call)


def test_call_header_without_markers_is_still_recognised() -> None:
    """derived: special tokens stripped (no parser, tool_choice none) leave functions.NAME:0."""
    response = copy.deepcopy(recorded("wrong_tool_parser_tool_call"))
    response["choices"][0]["message"]["content"] = 'functions.get_weather:0{"city": "Paris"}'
    with pytest.raises(CheckFailed, match=r"tool call left in content: 'functions\.get_weather"):
        judge_tool_call(response, CASES.tool_call)


@pytest.mark.parametrize(
    ("arguments", "reason"),
    [
        (
            '{"town": "Paris"}',
            r"do not fit get_weather's parameters: arguments: missing required "
            r"key 'city'",
        ),
        ('{"city": 75001}', r"arguments\.city: expected string, got integer 75001"),
        ("Paris", r"arguments are not JSON: 'Paris'"),
        ('["Paris"]', r"arguments are not a JSON object"),
    ],
)
def test_bad_arguments_fail_naming_why(arguments: str, reason: str) -> None:
    """derived: the recorded call with other argument text."""
    response = copy.deepcopy(recorded("good_tool_call"))
    response["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] = arguments
    with pytest.raises(CheckFailed, match=reason):
        judge_tool_call(response, CASES.tool_call)


def test_other_tool_called_fails() -> None:
    response = copy.deepcopy(recorded("good_tool_call"))
    response["choices"][0]["message"]["tool_calls"][0]["function"]["name"] = "get_time"
    with pytest.raises(CheckFailed, match=r"called \['get_time'\], expected 'get_weather'"):
        judge_tool_call(response, CASES.tool_call)


def test_finish_reason_must_be_tool_calls() -> None:
    response = copy.deepcopy(recorded("good_tool_call"))
    response["choices"][0]["finish_reason"] = "stop"
    with pytest.raises(CheckFailed, match=r"finish_reason 'stop', expected 'tool_calls'"):
        judge_tool_call(response, CASES.tool_call)


def test_follow_up_answer_passes_and_a_second_call_fails() -> None:
    answer = recorded("good_tool_result")
    assert judge_tool_result(answer, 400).startswith("final answer ")
    again = copy.deepcopy(answer)
    again["choices"][0]["message"]["tool_calls"] = recorded("good_tool_call")["choices"][0][
        "message"
    ]["tool_calls"]
    with pytest.raises(CheckFailed, match=r"called \['get_weather'\] again"):
        judge_tool_result(again, 400)


# ---- models, metrics, auth ----


def test_models_lists_the_name_or_says_what_is_served() -> None:
    listing = {"object": "list", "data": [{"id": "kimi-tiny", "max_model_len": 512}]}
    assert "max_model_len 512" in judge_models(listing, "kimi-tiny")
    with pytest.raises(
        CheckFailed,
        match=r"'kimi-k2' is not served here; the server lists: "
        r"kimi-tiny",
    ):
        judge_models(listing, "kimi-k2")


def metrics() -> list[Sample]:
    return parse_metrics((RECORDED / "good_metrics.txt").read_text())


def grown(samples: list[Sample], by: float) -> list[Sample]:
    return [
        Sample(s.name, s.labels, s.value + by if s.name.endswith("tokens_total") else s.value)
        for s in samples
    ]


def test_metrics_parse_and_sum_per_model() -> None:
    samples = metrics()
    assert total(samples, "vllm:generation_tokens_total", "kimi-tiny") == 164
    assert total(samples, "vllm:request_success_total", "kimi-tiny") == 7
    assert total(samples, "vllm:nothing_total") is None


def test_metrics_need_growth_after_generation() -> None:
    before = metrics()
    assert "generation_tokens +5" in judge_metrics(before, grown(before, 5), "kimi-tiny", True)
    with pytest.raises(CheckFailed, match=r"prompt_tokens_total did not grow \(497 -> 497\)"):
        judge_metrics(before, before, "kimi-tiny", True)
    assert "not checked" in judge_metrics(before, before, "kimi-tiny", False)


def test_metrics_missing_series_fail() -> None:
    without = [s for s in metrics() if s.name != "vllm:num_requests_running"]
    with pytest.raises(CheckFailed, match=r"missing series: vllm:num_requests_running"):
        judge_metrics(None, without, "kimi-tiny", True)
    with pytest.raises(CheckFailed, match=r"no vllm: series"):
        judge_metrics(None, parse_metrics("process_cpu_seconds_total 1.0\n"), "kimi-tiny", True)


@pytest.mark.parametrize(
    ("with_key", "without_key", "configured", "outcome"),
    [
        (200, 401, True, "without the key: 401; with it: 200"),
        (200, 200, True, r"FAIL:got 200, expected 401: the server is not protected"),
        (401, 401, True, r"FAIL:configured API key is refused"),
        (None, 200, False, "no API key configured; the server answers without one"),
        (None, 401, False, r"FAIL:requires an API key \(401\) but none was given"),
    ],
)
def test_auth(with_key: int | None, without_key: int, configured: bool, outcome: str) -> None:
    if outcome.startswith("FAIL:"):
        with pytest.raises(CheckFailed, match=outcome.removeprefix("FAIL:")):
            judge_auth(with_key, without_key, configured)
    else:
        assert outcome in judge_auth(with_key, without_key, configured)
