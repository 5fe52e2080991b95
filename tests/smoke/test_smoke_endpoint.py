"""The shared HTTP mapping (src/vllm_fleet/endpoint.py): URLs operators type, server messages."""

from __future__ import annotations

import pytest

from vllm_fleet.endpoint import base_url, server_message, status_problem
from vllm_fleet.errors import EndpointError


@pytest.mark.parametrize(
    ("typed", "base"),
    [
        ("http://10.0.0.5:8000", "http://10.0.0.5:8000"),
        ("http://10.0.0.5:8000/", "http://10.0.0.5:8000"),
        ("http://10.0.0.5:8000/v1", "http://10.0.0.5:8000"),
        (" https://llm.example/v1/ ", "https://llm.example"),
        ("http://gw.example/kimi", "http://gw.example/kimi"),  # a path prefix behind a proxy stays
    ],
)
def test_base_url(typed: str, base: str) -> None:
    assert base_url(typed) == base


@pytest.mark.parametrize("typed", ["10.0.0.5:8000", "ftp://h/", "http://", ""])
def test_base_url_refuses_what_is_not_http(typed: str) -> None:
    with pytest.raises(EndpointError, match=r"not an http\(s\) URL; expected e\.g\. http://"):
        base_url(typed)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            '{"error": {"message": "The model `x` does not exist.", "code": 404}}',
            "The model `x` does not exist.",
        ),
        ('{"error": "Unauthorized"}', "Unauthorized"),  # vLLM's --api-key middleware
        ('{"detail": "Not Found"}', "Not Found"),  # FastAPI
        ("<html>bad gateway</html>", "<html>bad gateway</html>"),
        ("", "(empty body)"),
    ],
)
def test_server_message(body: str, message: str) -> None:
    assert server_message(body) == message


def test_status_problem_adds_a_hint_only_where_the_server_does_not_say_enough() -> None:
    assert status_problem(401, '{"error": "Unauthorized"}') == (
        "401: Unauthorized (the server requires an API key: pass --api-key-env VAR)"
    )
    assert status_problem(404, '{"error": {"message": "The model `x` does not exist."}}') == (
        "404: The model `x` does not exist."
    )
    assert "is this a vLLM server" in status_problem(404, "Not Found")
    assert status_problem(500, "boom") == "500: boom"
