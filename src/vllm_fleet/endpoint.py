"""Talking HTTP to a vLLM endpoint: one place that maps failures to EndpointError.

The smoke checks, the deploy's ready gate and the benchmark client all go through here, so an
unreachable host, a 401 or a dead engine reads the same everywhere: URL, status, the server's own
message, and what to do about it.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import httpx

from vllm_fleet.errors import EndpointError, EndpointUnreachableError

# Hints for statuses an operator meets after a deploy; the server's message comes first.
STATUS_HINTS = {
    401: "the server requires an API key: pass --api-key-env VAR",
    404: "not found: is this a vLLM server, and the URL its base (http://HOST:PORT)?",
    503: "the engine is not ready or has died (see the service's log)",
}


def base_url(url: str) -> str:
    """``http://host:8000``, from what an operator may type (a trailing ``/`` or ``/v1``).

    Raises EndpointError for anything that is not an http(s) URL with a host.
    """
    cleaned = url.strip().rstrip("/")
    cleaned = cleaned.removesuffix("/v1")
    parts = urlsplit(cleaned)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise EndpointError(url, "not an http(s) URL; expected e.g. http://127.0.0.1:8000")
    return cleaned


def auth_headers(api_key: str | None) -> dict[str, str]:
    """The bearer header vLLM's ``--api-key`` expects, or none."""
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


def request(client: httpx.Client, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """Send one request; transport failures become EndpointUnreachableError (no traceback)."""
    try:
        return client.request(method, url, **kwargs)
    except httpx.ConnectError as err:
        raise EndpointUnreachableError(
            url, f"cannot connect ({transport_reason(err)}); is vLLM running and listening there?"
        ) from None
    except httpx.TimeoutException as err:
        raise EndpointUnreachableError(url, f"no answer in time ({type(err).__name__})") from None
    except httpx.TransportError as err:
        raise EndpointUnreachableError(url, f"transport error: {transport_reason(err)}") from None


def raise_for_status(response: httpx.Response) -> httpx.Response:
    """Return ``response`` if it is 2xx, else raise EndpointError with the server's message."""
    if response.is_success:
        return response
    status = response.status_code
    raise EndpointError(
        str(response.request.url),
        status_problem(status, response.text),
        status=status,
        body=response.text,
    )


def status_problem(status: int, body: str) -> str:
    """``401: Unauthorized (the server requires an API key: …)``: the status, the server's own
    message, and a hint when the server's words alone would not say what to do."""
    message = server_message(body)
    hint = STATUS_HINTS.get(status)
    if status == 404 and _json_error(body):
        hint = None  # vLLM's own 404 (e.g. "The model `x` does not exist") says it all
    return f"{status}: {message}" + (f" ({hint})" if hint else "")


def _json_error(body: str) -> bool:
    try:
        return isinstance(json.loads(body), dict)
    except ValueError:
        return False


def server_message(body: str, limit: int = 200) -> str:
    """vLLM's error text from a JSON body (``{"error": {"message": …}}`` or ``{"message": …}``,
    ``{"detail": …}``), else the body's start."""
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if isinstance(data, dict):
        inner = data.get("error", data)
        if isinstance(inner, dict):
            text = inner.get("message") or inner.get("detail")
            if isinstance(text, str):
                return excerpt(text, limit)
        elif isinstance(inner, str):
            return excerpt(inner, limit)
    return excerpt(body.strip() or "(empty body)", limit)


def transport_reason(err: Exception) -> str:
    """A short reason for a transport failure: 'connection refused', 'name not known', …"""
    text = str(err) or type(err).__name__
    for needle, reason in (
        ("refused", "connection refused"),
        ("Name or service not known", "unknown host"),
        ("nodename nor servname", "unknown host"),
        ("No route to host", "no route to host"),
        ("timed out", "timed out"),
    ):
        if needle in text:
            return reason
    return excerpt(text, 120)


def excerpt(text: str, limit: int = 120) -> str:
    """``text`` on one line, cut to ``limit`` characters with an ellipsis."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def stream_lines(
    client: httpx.Client, url: str, *, json_body: dict[str, Any], headers: dict[str, str]
) -> list[str]:
    """POST ``json_body`` and read a streamed (SSE) answer to its end, line by line; the same
    failure mapping as ``request`` and ``raise_for_status``."""
    try:
        with client.stream("POST", url, json=json_body, headers=headers) as response:
            if not response.is_success:
                response.read()
                raise_for_status(response)
            return list(response.iter_lines())
    except httpx.ConnectError as err:
        raise EndpointUnreachableError(url, f"cannot connect ({transport_reason(err)})") from None
    except httpx.TimeoutException as err:
        raise EndpointUnreachableError(url, f"no answer in time ({type(err).__name__})") from None
    except httpx.TransportError as err:
        raise EndpointUnreachableError(url, f"transport error: {transport_reason(err)}") from None
