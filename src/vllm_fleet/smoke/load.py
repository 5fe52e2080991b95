"""A bounded client load: streaming chat requests at a steady rate, each judged complete.

What a rollout is measured against (tests/rollout, benchmarks/rollout.py): requests start at
``rate`` per second, whatever the endpoint's speed, as clients' do; each streams the smoke's
chat case and counts only if the joined answer is non-empty, finished with ``stop`` and closed
by ``data: [DONE]`` (smoke.judge.judge_stream). A request still open at the end is waited for,
never abandoned, so nothing is left running on the server.

    with ChatLoad(url, model, api_key) as load:
        ...  # the change under test
    assert not load.failures
"""

from __future__ import annotations

import statistics
import threading
import time
from dataclasses import dataclass, field

import httpx

from vllm_fleet.endpoint import auth_headers, stream_lines
from vllm_fleet.errors import EndpointError
from vllm_fleet.smoke.cases import load_cases
from vllm_fleet.smoke.checks import Session
from vllm_fleet.smoke.judge import CheckFailed, judge_stream, parse_sse

REQUEST_TIMEOUT_S = 120.0
# A load that outlives its purpose (a hung rollout) stops by itself.
DEFAULT_MAX_SECONDS = 1800.0


@dataclass(frozen=True)
class Outcome:
    """One request: when it started (seconds into the load), how long it took, what failed."""

    started: float
    seconds: float
    error: str | None = None


@dataclass
class ChatLoad:
    """Streaming chats at ``rate`` per second to ``url`` until the ``with`` block ends."""

    url: str
    model: str
    api_key: str | None = None
    rate: float = 2.0
    max_seconds: float = DEFAULT_MAX_SECONDS
    outcomes: list[Outcome] = field(default_factory=list)

    def __post_init__(self) -> None:
        cases = load_cases()
        session = Session(self.url, self.model, cases, self.api_key, REQUEST_TIMEOUT_S)
        try:  # the smoke's cap, lowered to the server's max_model_len as the smoke does
            max_tokens = session.max_tokens(cases.chat.max_tokens)
        finally:
            session.close()
        self._body = {
            "model": self.model,
            "messages": cases.chat.messages,
            "max_tokens": max_tokens,
            "temperature": 0,
            "stream": True,
        }
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._requests: list[threading.Thread] = []
        self._pacer = threading.Thread(target=self._pace, name="chat-load", daemon=True)

    def __enter__(self) -> ChatLoad:
        self._began = time.monotonic()
        self._pacer.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._pacer.join()
        for request in self._requests:
            request.join(REQUEST_TIMEOUT_S + 5)

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.error]

    def latencies(self, start: float = 0.0, end: float = float("inf")) -> list[float]:
        """Seconds of the successful requests that started between ``start`` and ``end``."""
        return [o.seconds for o in self.outcomes if not o.error and start <= o.started < end]

    def now(self) -> float:
        """Seconds into the load, on the clock of Outcome.started."""
        return time.monotonic() - self._began

    def _pace(self) -> None:
        interval = 1.0 / self.rate
        while not self._stop.wait(interval) and self.now() < self.max_seconds:
            request = threading.Thread(target=self._one, daemon=True)
            request.start()
            self._requests.append(request)

    def _one(self) -> None:
        started = self.now()
        error = None
        try:
            with httpx.Client(timeout=httpx.Timeout(REQUEST_TIMEOUT_S, connect=10.0)) as client:
                lines = stream_lines(
                    client,
                    f"{self.url}/v1/chat/completions",
                    json_body=self._body,
                    headers=auth_headers(self.api_key),
                )
            chunks, done = parse_sse(lines)
            judge_stream(chunks, done, self._body["max_tokens"])
        except (EndpointError, CheckFailed) as err:
            error = str(err)
        with self._lock:
            self.outcomes.append(Outcome(started, self.now() - started, error))


def percentile(values: list[float], fraction: float) -> float:
    """The ``fraction`` quantile (0.5 = p50, 0.99 = p99) of ``values``, by linear interpolation."""
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[round(fraction * 100) - 1]
