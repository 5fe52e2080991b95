"""hadolint runs on every render with the one config file of justified ignores."""

from __future__ import annotations

import pytest

from vllm_fleet.images.lint import lint_all, lint_dockerfile


def test_every_render_passes_hadolint() -> None:
    results = lint_all()
    assert len(results) == 10  # 3 targets, 5 install modes, root and non-root
    failures = [f"{r.variant}:\n{r.output}" for r in results if not r.ok]
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize(
    ("dockerfile", "rule"),
    [
        ("FROM debian:12.12-slim\nRUN cd /tmp && true\n", "DL3003"),
        ("FROM debian:latest\n", "DL3007"),
        ("FROM debian:12.12-slim\nRUN pip install requests\n", "DL3013"),
    ],
)
def test_hadolint_still_catches_what_is_not_ignored(dockerfile: str, rule: str) -> None:
    result = lint_dockerfile(dockerfile, "probe")
    assert not result.ok
    assert rule in result.output
    assert result.output.startswith("probe:")
