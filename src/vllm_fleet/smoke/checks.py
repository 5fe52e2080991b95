"""The smoke checks' requests: one function per check, each returning its pass detail.

A check talks to the endpoint the way a real client does (the official ``openai`` client for
chat, reasoning and tools; raw SSE for the stream, to see ``data: [DONE]``), then hands the
answer to its judge (judge.py). Failures raise CheckFailed or EndpointError; the runner turns
them into the report's detail.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from openai import OpenAI

from vllm_fleet.endpoint import auth_headers, raise_for_status, request, stream_lines
from vllm_fleet.smoke.cases import ChatCase, SmokeCases
from vllm_fleet.smoke.judge import (
    CheckFailed,
    judge_auth,
    judge_chat,
    judge_metrics,
    judge_models,
    judge_reasoning,
    judge_stream,
    judge_tool_call,
    judge_tool_call_stream,
    judge_tool_result,
    parse_sse,
)
from vllm_fleet.smoke.metrics import Sample, parse_metrics

# vLLM updates its Prometheus counters as outputs are processed, a moment after the HTTP answer:
# the metrics check re-reads for this long before it calls a counter stuck.
METRICS_SETTLE_SECONDS = 5.0
# Sent without an API key so the openai client never falls back to OPENAI_API_KEY (a real
# OpenAI key must not leave for a vLLM host). vLLM without --api-key ignores it.
NO_KEY = "EMPTY"


@dataclass
class Session:
    """One run's connection to the endpoint and what the checks learn along the way."""

    url: str
    model: str
    cases: SmokeCases
    api_key: str | None
    timeout: float
    http: httpx.Client = field(init=False)
    client: OpenAI = field(init=False)
    metrics_before: list[Sample] | None = None
    generated: bool = False  # a check got generated tokens back (metrics must then grow)
    server_version: str | None = None
    _max_model_len: int | None = None
    _looked_up: bool = False

    def __post_init__(self) -> None:
        self.http = httpx.Client(timeout=httpx.Timeout(self.timeout, connect=10.0))
        self.client = OpenAI(
            base_url=f"{self.url}/v1",
            api_key=self.api_key or NO_KEY,
            max_retries=0,
            timeout=self.timeout,
        )

    def close(self) -> None:
        self.client.close()
        self.http.close()

    def get(self, path: str, *, auth: bool = True) -> httpx.Response:
        """GET ``path`` on the endpoint, with the API key unless ``auth`` is False."""
        headers = auth_headers(self.api_key) if auth else {}
        return request(self.http, "GET", f"{self.url}{path}", headers=headers)

    def max_tokens(self, wanted: int) -> int:
        """``wanted``, lowered to the server's max_model_len (vLLM refuses a larger cap)."""
        if not self._looked_up:
            self._looked_up = True
            self._max_model_len = self._lookup_max_model_len()
        return min(wanted, self._max_model_len) if self._max_model_len else wanted

    def _lookup_max_model_len(self) -> int | None:
        try:
            cards = self.get("/v1/models").json().get("data", [])
        except (httpx.HTTPError, ValueError, AttributeError, ConnectionError):
            return None  # the models check reports why
        for card in cards:
            if isinstance(card, dict) and card.get("id") == self.model:
                limit = card.get("max_model_len")
                return limit if isinstance(limit, int) and limit > 0 else None
        return None

    def complete(
        self,
        messages: list[dict[str, Any]],
        max_tokens: int,
        tools: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """One chat completion through the openai client, as plain data (vLLM's extra fields,
        such as ``reasoning``, included). Greedy, so a failure reproduces."""
        extra: dict[str, Any] = {"tools": tools} if tools else {}
        response = self.client.chat.completions.create(
            model=self.model,
            messages=messages,
            max_tokens=max_tokens,
            temperature=0,
            **extra,
        ).model_dump(mode="json")
        if ((response.get("usage") or {}).get("completion_tokens") or 0) > 0:
            self.generated = True
        return response


def check_health(s: Session) -> str:
    response = s.get("/health", auth=False)
    if response.status_code != 200:
        raise_for_status(response)
        raise CheckFailed(f"/health answered {response.status_code}, expected 200")
    return "/health 200"


def check_version(s: Session) -> str:
    data = raise_for_status(s.get("/version", auth=False)).json()
    version = data.get("version") if isinstance(data, dict) else None
    if not isinstance(version, str) or not version:
        raise CheckFailed(f"/version has no version: {json.dumps(data)[:120]!r}")
    s.server_version = version
    return f"vLLM {version}"


def check_models(s: Session) -> str:
    return judge_models(raise_for_status(s.get("/v1/models")).json(), s.model)


def check_chat(s: Session) -> str:
    case = s.cases.chat
    max_tokens = s.max_tokens(case.max_tokens)
    return judge_chat(s.complete(case.messages, max_tokens), max_tokens)


def check_stream(s: Session) -> str:
    case: ChatCase = s.cases.chat
    max_tokens = s.max_tokens(case.max_tokens)
    body = {
        "model": s.model,
        "messages": case.messages,
        "max_tokens": max_tokens,
        "temperature": 0,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    lines = stream_lines(
        s.http, f"{s.url}/v1/chat/completions", json_body=body, headers=auth_headers(s.api_key)
    )
    chunks, done = parse_sse(lines)
    detail = judge_stream(chunks, done, max_tokens)
    s.generated = True
    return detail


def check_reasoning(s: Session) -> str:
    case = s.cases.reasoning
    max_tokens = s.max_tokens(case.max_tokens)
    return judge_reasoning(s.complete(case.messages, max_tokens), max_tokens)


def check_tool_call(s: Session) -> str:
    """The call, then the follow-up turn: the assistant message carrying the returned calls and
    one ``tool`` message per call whose content is ``json.dumps(tool_result)``."""
    case = s.cases.tool_call
    max_tokens = s.max_tokens(case.max_tokens)
    verdict = judge_tool_call(s.complete(case.messages, max_tokens, case.tools), case)
    results = [
        {"role": "tool", "tool_call_id": call["id"], "content": json.dumps(case.tool_result)}
        for call in verdict.assistant_message["tool_calls"]
    ]
    follow_up = [*case.messages, verdict.assistant_message, *results]
    final = judge_tool_result(s.complete(follow_up, max_tokens, case.tools), max_tokens)
    return f"{verdict.detail}; {final}"


def check_tool_call_stream(s: Session) -> str:
    """The tool-call case streamed, as agent clients send it: proxies are where SSE breaks."""
    case = s.cases.tool_call
    body = {
        "model": s.model,
        "messages": case.messages,
        "tools": case.tools,
        "max_tokens": s.max_tokens(case.max_tokens),
        "temperature": 0,
        "stream": True,
    }
    lines = stream_lines(
        s.http, f"{s.url}/v1/chat/completions", json_body=body, headers=auth_headers(s.api_key)
    )
    chunks, done = parse_sse(lines)
    s.generated = True
    return judge_tool_call_stream(chunks, done, case)


def check_metrics(s: Session) -> str:
    deadline = time.monotonic() + METRICS_SETTLE_SECONDS
    while True:
        after = parse_metrics(raise_for_status(s.get("/metrics", auth=False)).text)
        try:
            return judge_metrics(s.metrics_before, after, s.model, s.generated)
        except CheckFailed:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.5)


def check_auth(s: Session) -> str:
    without_key = s.get("/v1/models", auth=False).status_code
    with_key = s.get("/v1/models").status_code if s.api_key else None
    return judge_auth(with_key, without_key, bool(s.api_key))


def read_metrics(s: Session) -> list[Sample] | None:
    """The counters before any check generated text (None if /metrics cannot be read)."""
    try:
        return parse_metrics(raise_for_status(s.get("/metrics", auth=False)).text)
    except ConnectionError:
        return None


# In run order: the cheap probes first, metrics after everything that generates text, and auth
# last (its 401 probes should not disturb anything else).
CHECKS: dict[str, Callable[[Session], str]] = {
    "health": check_health,
    "version": check_version,
    "models": check_models,
    "chat": check_chat,
    "stream": check_stream,
    "reasoning": check_reasoning,
    "tool_call": check_tool_call,
    "tool_call_stream": check_tool_call_stream,
    "metrics": check_metrics,
    "auth": check_auth,
}
