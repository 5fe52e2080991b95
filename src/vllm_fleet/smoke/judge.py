"""What each check concludes from what the server returned: pure functions on response data.

Kept apart from the HTTP calls (checks.py) so the logic is tested on responses recorded from
real vLLM (tests/smoke/recorded/). Each judge returns a one-line detail for a pass, or raises
CheckFailed with the reason a client would care about. Against a real model they assert
properties (non-empty, parses, names match), never exact strings.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from vllm_fleet.endpoint import excerpt
from vllm_fleet.smoke.argschema import schema_problems
from vllm_fleet.smoke.cases import ToolCallCase
from vllm_fleet.smoke.metrics import (
    REQUIRED_SERIES,
    ROUTER_COUNTER,
    ROUTER_SERIES,
    TOKEN_COUNTERS,
    Sample,
    series_names,
    total,
)

# Kimi-K2's tool-call markers. Seen in `content`, they mean no tool parser (or the wrong one) ran.
TOOL_MARKERS = (
    "<|tool_calls_section_begin|>",
    "<|tool_call_begin|>",
    "<|tool_call_argument_begin|>",
    "<|tool_call_end|>",
    "<|tool_calls_section_end|>",
)
# With special tokens stripped, a Kimi call still shows its header: functions.NAME:IDX
TOOL_HEADER = re.compile(r"functions\.[\w.-]+:\d+")
THINK_MARKERS = ("<think>", "</think>")
FIX_TOOLS = "start vLLM with --enable-auto-tool-choice --tool-call-parser kimi_k2"
FIX_REASONING = "start vLLM with --reasoning-parser kimi_k2"


class CheckFailed(Exception):
    """A check's verdict: failed, and why (the exception's message is the report's detail)."""


@dataclass(frozen=True)
class ToolCallVerdict:
    """A passing tool call: its detail, and the assistant message the follow-up turn sends."""

    detail: str
    assistant_message: dict[str, Any]


def judge_models(listing: dict[str, Any], model: str) -> str:
    """``/v1/models`` lists ``model``."""
    cards = listing.get("data") if isinstance(listing, dict) else None
    if not isinstance(cards, list):
        raise CheckFailed(f"/v1/models returned no model list: {excerpt(json.dumps(listing))!r}")
    ids = [card.get("id") for card in cards if isinstance(card, dict)]
    if model not in ids:
        served = ", ".join(str(i) for i in ids) or "nothing"
        raise CheckFailed(
            f"{model!r} is not served here; the server lists: {served} "
            "(fix --model, or the service's --served-model-name)"
        )
    card = cards[ids.index(model)]
    limit = card.get("max_model_len")
    return f"{model!r} is served" + (f" (max_model_len {limit})" if limit else "")


def judge_chat(response: dict[str, Any], max_tokens: int) -> str:
    """A non-empty answer that ended on its own, and usage that adds up."""
    choice = first_choice(response)
    message = choice.get("message") or {}
    content = (message.get("content") or "").strip()
    _require_finished(choice, content, reasoning_of(message)[1], max_tokens)
    if not content:
        raise CheckFailed(f"empty answer (finish_reason {choice.get('finish_reason')!r})")
    usage = _usage_problems(response.get("usage"))
    if usage:
        raise CheckFailed(usage)
    tokens = response["usage"]["completion_tokens"]
    return f"answer {excerpt(content, 60)!r} ({tokens} tokens)"


def judge_stream(chunks: list[dict[str, Any]], done: bool, max_tokens: int) -> str:
    """Deltas joined into a non-empty answer, a ``stop`` finish, and ``data: [DONE]`` at the end.

    Only the joined text counts: chunk boundaries depend on timing and are never compared.
    """
    for chunk in chunks:
        if "error" in chunk:
            raise CheckFailed(f"error inside the stream: {excerpt(json.dumps(chunk['error']))}")
    content, reasoning, finishes = join_deltas(chunks)
    if not chunks:
        raise CheckFailed("the stream carried no chunks")
    finish = finishes[-1] if finishes else None
    _require_finished({"finish_reason": finish}, content.strip(), reasoning, max_tokens)
    if not content.strip():
        raise CheckFailed(
            f"the joined deltas are empty ({len(chunks)} chunks, finish_reason {finish!r})"
        )
    if not done:
        raise CheckFailed("the stream ended without 'data: [DONE]'")
    return f"joined answer {excerpt(content.strip(), 60)!r}, finish {finish!r}, [DONE] seen"


def judge_reasoning(response: dict[str, Any], max_tokens: int) -> str:
    """Reasoning returned apart from the answer (``reasoning``, or the older
    ``reasoning_content``), and no thinking markers left in the answer."""
    choice = first_choice(response)
    message = choice.get("message") or {}
    content = (message.get("content") or "").strip()
    field, reasoning = reasoning_of(message)
    if not reasoning.strip():
        if any(marker in content for marker in THINK_MARKERS):
            raise CheckFailed(
                f"no reasoning field; the thinking is left in content: "
                f"{excerpt(content, 80)!r} ({FIX_REASONING})"
            )
        raise CheckFailed(
            "no reasoning returned (neither 'reasoning' nor 'reasoning_content'); "
            f"content: {excerpt(content, 80)!r} ({FIX_REASONING}, and serve a "
            "thinking model)"
        )
    _require_finished(choice, content, reasoning, max_tokens)
    if not content:
        raise CheckFailed(
            f"reasoning but no answer: content is empty (finish_reason "
            f"{choice.get('finish_reason')!r})"
        )
    leaked = [marker for marker in THINK_MARKERS if marker in content]
    if leaked:
        raise CheckFailed(
            f"thinking markers {', '.join(leaked)} left in content: {excerpt(content, 80)!r}"
        )
    return f"{field}: {excerpt(reasoning.strip(), 50)!r}; answer: {excerpt(content, 50)!r}"


def judge_tool_call(response: dict[str, Any], case: ToolCallCase) -> ToolCallVerdict:
    """A call of the expected tool, ``finish_reason: tool_calls``, arguments that parse as JSON
    and fit the tool's parameters schema."""
    choice = first_choice(response)
    message = choice.get("message") or {}
    calls = message.get("tool_calls") or []
    if not calls:
        raise CheckFailed(_no_call_reason(choice, message, case.max_tokens))
    finish = choice.get("finish_reason")
    if finish != "tool_calls":
        raise CheckFailed(
            f"finish_reason {finish!r}, expected 'tool_calls' ({len(calls)} call(s) returned)"
        )
    call = _call_of(calls, case.expect_tool)
    args = _parsed_arguments(call, case)
    assistant = {
        "role": "assistant",
        "content": message.get("content"),
        "tool_calls": [_echo_call(c) for c in calls],
    }
    _field, reasoning = reasoning_of(message)
    if reasoning:
        # Kimi-K2-Thinking keeps its reasoning across tool turns; vLLM accepts it back.
        assistant["reasoning"] = reasoning
    detail = f"{case.expect_tool}({json.dumps(args)}) id {call.get('id')!r}"
    return ToolCallVerdict(detail, assistant)


def judge_tool_call_stream(chunks: list[dict[str, Any]], done: bool, case: ToolCallCase) -> str:
    """A streamed tool call: the ``tool_calls`` deltas, joined by their ``index``, give one call
    of the expected tool with an id and JSON arguments that fit its schema; the stream ends with
    ``finish_reason: tool_calls`` and ``data: [DONE]``. Chunk boundaries are never compared."""
    for chunk in chunks:
        if "error" in chunk:
            raise CheckFailed(f"error inside the stream: {excerpt(json.dumps(chunk['error']))}")
    if not chunks:
        raise CheckFailed("the stream carried no chunks")
    calls = join_tool_call_deltas(chunks)
    content, reasoning, finishes = join_deltas(chunks)
    finish = finishes[-1] if finishes else None
    if not calls:
        message = {"content": content, "reasoning": reasoning}
        raise CheckFailed(
            "streamed: " + _no_call_reason({"finish_reason": finish}, message, case.max_tokens)
        )
    if len(calls) != 1:
        names = [c["function"]["name"] for c in calls]
        raise CheckFailed(
            f"the deltas join into {len(calls)} calls {names}, expected one call "
            f"of {case.expect_tool!r}"
        )
    if finish != "tool_calls":
        raise CheckFailed(f"finish_reason {finish!r}, expected 'tool_calls'")
    call = _call_of(calls, case.expect_tool)
    args = _parsed_arguments(call, case)
    if not done:
        raise CheckFailed("the stream ended without 'data: [DONE]'")
    return (
        f"{case.expect_tool}({json.dumps(args)}) joined from {len(chunks)} chunks, "
        "finish 'tool_calls', [DONE] seen"
    )


def join_tool_call_deltas(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The calls a stream carries: each ``delta.tool_calls[]`` entry is a piece of the call at
    its ``index`` (the id, name and type come once; ``arguments`` arrives in fragments that are
    concatenated), in index order."""
    calls: dict[int, dict[str, Any]] = {}
    for chunk in chunks:
        for choice in chunk.get("choices") or []:
            for piece in (choice.get("delta") or {}).get("tool_calls") or []:
                index = piece.get("index")
                if not isinstance(index, int):
                    raise CheckFailed(
                        f"a tool-call delta has no index: {excerpt(json.dumps(piece), 80)!r}"
                    )
                call = calls.setdefault(
                    index,
                    {"id": None, "type": "function", "function": {"name": "", "arguments": ""}},
                )
                call["id"] = piece.get("id") or call["id"]
                function = piece.get("function") or {}
                call["function"]["name"] += function.get("name") or ""
                call["function"]["arguments"] += function.get("arguments") or ""
    return [calls[i] for i in sorted(calls)]


def judge_tool_result(response: dict[str, Any], max_tokens: int) -> str:
    """The turn after the tool's result: a final answer, not another call."""
    choice = first_choice(response)
    message = choice.get("message") or {}
    if message.get("tool_calls"):
        names = [c.get("function", {}).get("name") for c in message["tool_calls"]]
        raise CheckFailed(
            f"after the tool result the model called {names} again instead of answering"
        )
    content = (message.get("content") or "").strip()
    _require_finished(choice, content, reasoning_of(message)[1], max_tokens)
    if not content:
        raise CheckFailed(
            "after the tool result the answer is empty "
            f"(finish_reason {choice.get('finish_reason')!r})"
        )
    return f"final answer {excerpt(content, 60)!r}"


def judge_metrics(
    before: list[Sample] | None, after: list[Sample], model: str, generated: bool
) -> str:
    """vLLM's series are exported, and the token counters grew while the checks generated."""
    names = series_names(after)
    if not any(name.startswith("vllm:") for name in names) and ROUTER_COUNTER in names:
        return _judge_router_metrics(before, after, generated)
    if not any(name.startswith("vllm:") for name in names):
        raise CheckFailed(f"no vllm: series among {len(names)} at /metrics (is this vLLM?)")
    missing = [name for name in REQUIRED_SERIES if name not in names]
    if missing:
        raise CheckFailed(f"missing series: {', '.join(missing)}")
    if not generated:
        return "series present; no generating check ran, so counter growth was not checked"
    if before is None:
        return "series present; /metrics could not be read before the checks (growth unknown)"
    grew = []
    for name in TOKEN_COUNTERS:
        start, end = total(before, name, model), total(after, name, model)
        if start is None or end is None:
            raise CheckFailed(f"missing counter {name}")
        if end <= start:
            raise CheckFailed(
                f"{name} did not grow ({start:g} -> {end:g}) while the checks generated text"
            )
        grew.append(f"{name.removeprefix('vllm:').removesuffix('_total')} +{end - start:g}")
    return "series present; " + ", ".join(grew)


def _judge_router_metrics(before: list[Sample] | None, after: list[Sample], generated: bool) -> str:
    """A router's /metrics: its series, and requests counted on its workers while the checks
    generated (the workers' own vLLM counters are each on their host)."""
    names = series_names(after)
    missing = [name for name in ROUTER_SERIES if name not in names]
    if missing:
        raise CheckFailed(f"router metrics without: {', '.join(missing)}")
    workers = total(after, "vllm_router_active_workers") or 0
    if workers < 1:
        raise CheckFailed("the router has no active worker (vllm_router_active_workers 0)")
    if not generated or before is None:
        return f"router series present, {workers:g} active workers; growth not checked"
    start, end = total(before, ROUTER_COUNTER) or 0.0, total(after, ROUTER_COUNTER) or 0.0
    if end <= start:
        raise CheckFailed(
            f"{ROUTER_COUNTER} did not grow ({start:g} -> {end:g}) while the checks generated text"
        )
    return f"router series present, {workers:g} active workers; processed requests +{end - start:g}"


def judge_auth(with_key: int | None, without_key: int, key_configured: bool) -> str:
    """With a key configured: a request without it gets 401 and one with it does not.
    Without: the server must not demand one."""
    if not key_configured:
        if without_key == 401:
            raise CheckFailed(
                "the server requires an API key (401) but none was given: pass --api-key-env VAR"
            )
        return f"no API key configured; the server answers without one ({without_key})"
    if without_key != 401:
        raise CheckFailed(
            f"a request without the key got {without_key}, expected 401: the "
            "server is not protected (set --api-key or VLLM_API_KEY on it)"
        )
    if with_key == 401:
        raise CheckFailed("the configured API key is refused (401): wrong key?")
    return f"without the key: 401; with it: {with_key}"


# ---- helpers ----


def first_choice(response: dict[str, Any]) -> dict[str, Any]:
    """The first choice of a completion, or CheckFailed if there is none."""
    choices = response.get("choices") if isinstance(response, dict) else None
    if not choices:
        raise CheckFailed(f"no choices in the response: {excerpt(json.dumps(response))!r}")
    return choices[0]


def reasoning_of(message: dict[str, Any]) -> tuple[str, str]:
    """(field name, text) of a message's reasoning: vLLM >= 0.12 says ``reasoning``, older
    releases ``reasoning_content``; ('', '') when there is none."""
    for field in ("reasoning", "reasoning_content"):
        value = message.get(field)
        if isinstance(value, str) and value:
            return field, value
    return "", ""


def join_deltas(chunks: list[dict[str, Any]]) -> tuple[str, str, list[str]]:
    """(content, reasoning, finish reasons) joined over a stream's chunks."""
    content, reasoning, finishes = [], [], []
    for chunk in chunks:
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            content.append(delta.get("content") or "")
            reasoning.append(delta.get("reasoning") or delta.get("reasoning_content") or "")
            if choice.get("finish_reason"):
                finishes.append(choice["finish_reason"])
    return "".join(content), "".join(reasoning), finishes


def _require_finished(
    choice: dict[str, Any], content: str, reasoning: str, max_tokens: int
) -> None:
    finish = choice.get("finish_reason")
    if finish == "length":
        where = "inside its reasoning" if reasoning and not content else "before the end"
        raise CheckFailed(
            f"cut off {where} by max_tokens={max_tokens} (finish_reason 'length'); "
            "a thinking model needs room to finish thinking"
        )
    if finish is None:
        raise CheckFailed("no finish_reason: the answer did not end")
    if finish != "stop":
        raise CheckFailed(f"finish_reason {finish!r}, expected 'stop'")


def _usage_problems(usage: Any) -> str | None:
    if not isinstance(usage, dict):
        return "no usage in the response"
    prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
    if not (isinstance(prompt, int) and prompt > 0):
        return f"usage.prompt_tokens is {prompt!r}, expected a positive count"
    if not (isinstance(completion, int) and completion > 0):
        return f"usage.completion_tokens is {completion!r}, expected a positive count"
    if usage.get("total_tokens") != prompt + completion:
        return (
            f"usage does not add up: total_tokens {usage.get('total_tokens')!r} != "
            f"{prompt} + {completion}"
        )
    return None


def _no_call_reason(choice: dict[str, Any], message: dict[str, Any], max_tokens: int) -> str:
    content = message.get("content") or ""
    _field, reasoning = reasoning_of(message)
    finish = choice.get("finish_reason")
    for where, text in (("content", content), ("reasoning", reasoning)):
        if any(m in text for m in TOOL_MARKERS) or TOOL_HEADER.search(text):
            start = min(
                [i for i in (text.find(m) for m in TOOL_MARKERS) if i >= 0]
                + [m.start() for m in TOOL_HEADER.finditer(text)]
            )
            return (
                f"tool call left in {where}: {excerpt(text[start:], 80)!r} "
                f"(finish_reason {finish!r}; the server did not parse it: {FIX_TOOLS})"
            )
    if finish == "length":
        return f"no tool call: cut off by max_tokens={max_tokens} (finish_reason 'length')"
    return f"no tool call returned (finish_reason {finish!r}); content: {excerpt(content, 80)!r}"


def _call_of(calls: list[dict[str, Any]], name: str) -> dict[str, Any]:
    for call in calls:
        if (call.get("function") or {}).get("name") == name:
            if not call.get("id"):
                raise CheckFailed(
                    f"the call of {name} has no id (the follow-up cannot refer to it)"
                )
            return call
    called = [(c.get("function") or {}).get("name") for c in calls]
    raise CheckFailed(f"the model called {called}, expected {name!r}")


def _parsed_arguments(call: dict[str, Any], case: ToolCallCase) -> dict[str, Any]:
    raw = (call.get("function") or {}).get("arguments")
    try:
        args = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError as err:
        raise CheckFailed(f"arguments are not JSON: {excerpt(str(raw), 80)!r} ({err})") from None
    if not isinstance(args, dict):
        raise CheckFailed(f"arguments are not a JSON object: {excerpt(str(raw), 80)!r}")
    problems = schema_problems(args, case.tool()["parameters"])
    if problems:
        raise CheckFailed(
            f"arguments do not fit {case.expect_tool}'s parameters: " + "; ".join(problems)
        )
    return args


def _echo_call(call: dict[str, Any]) -> dict[str, Any]:
    """A returned call as the follow-up's assistant message carries it (OpenAI shape)."""
    function = call.get("function") or {}
    return {
        "id": call.get("id"),
        "type": "function",
        "function": {"name": function.get("name"), "arguments": function.get("arguments")},
    }


def parse_sse(lines: list[str]) -> tuple[list[dict[str, Any]], bool]:
    """(JSON chunks, whether ``data: [DONE]`` closed the stream) from an SSE body's lines."""
    chunks: list[dict[str, Any]] = []
    done = False
    for line in lines:
        if not line.startswith("data:"):
            continue
        payload = line[len("data:") :].strip()
        if payload == "[DONE]":
            done = True
            continue
        try:
            chunk = json.loads(payload)
        except ValueError:
            raise CheckFailed(f"a stream event is not JSON: {excerpt(payload, 80)!r}") from None
        chunks.append(chunk if isinstance(chunk, dict) else {"error": chunk})
    return chunks, done
