"""Tool-call arguments against the tool's JSON schema: one row per rule, problems named by path."""

from __future__ import annotations

from typing import Any

import pytest

from vllm_fleet.smoke.argschema import schema_problems

WEATHER = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
RICH = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "days": {"type": "integer"},
        "units": {"type": "string", "enum": ["metric", "imperial"]},
        "hourly": {"type": "boolean"},
        "ratio": {"type": ["number", "null"]},
        "tags": {"type": "array", "items": {"type": "string"}},
        "where": {
            "type": "object",
            "properties": {"lat": {"type": "number"}},
            "required": ["lat"],
            "additionalProperties": False,
        },
    },
    "required": ["city"],
}

CASES: list[tuple[str, Any, dict[str, Any], list[str]]] = [
    ("fits", {"city": "Paris"}, WEATHER, []),
    ("extra keys are allowed by default", {"city": "Paris", "x": 1}, WEATHER, []),
    (
        "required key missing",
        {"town": "Paris"},
        WEATHER,
        ["arguments: missing required key 'city'"],
    ),
    (
        "wrong type",
        {"city": 75001},
        WEATHER,
        ["arguments.city: expected string, got integer 75001"],
    ),
    ("not an object", ["Paris"], WEATHER, ["arguments: expected object, got array ['Paris']"]),
    ("integer accepts 3.0", {"city": "P", "days": 3.0}, RICH, []),
    (
        "integer refuses 3.5",
        {"city": "P", "days": 3.5},
        RICH,
        ["arguments.days: expected integer, got number 3.5"],
    ),
    (
        "true is not an integer",
        {"city": "P", "days": True},
        RICH,
        ["arguments.days: expected integer, got boolean True"],
    ),
    (
        "enum",
        {"city": "P", "units": "kelvin"},
        RICH,
        ["arguments.units: 'kelvin' is not one of ['metric', 'imperial']"],
    ),
    ("type list with null", {"city": "P", "ratio": None}, RICH, []),
    (
        "array items",
        {"city": "P", "tags": ["a", 2]},
        RICH,
        ["arguments.tags[1]: expected string, got integer 2"],
    ),
    (
        "nested object: missing and unexpected",
        {"city": "P", "where": {"lon": 2.3}},
        RICH,
        [
            "arguments.where: missing required key 'lat'",
            "arguments.where: unexpected key 'lon' (allowed: lat)",
        ],
    ),
    (
        "several problems at once",
        {"days": "3"},
        RICH,
        [
            "arguments: missing required key 'city'",
            "arguments.days: expected integer, got string '3'",
        ],
    ),
]


@pytest.mark.parametrize(
    ("value", "schema", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_schema_problems(value: Any, schema: dict[str, Any], expected: list[str]) -> None:
    assert schema_problems(value, schema) == expected
