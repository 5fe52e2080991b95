"""Check a tool call's arguments against the tool's JSON schema (the subset tools use).

Why not a full JSON-schema validator: a smoke check needs what a client would trip over (a
required key missing, a string where a number belongs, an unknown enum value), stated in one line
per problem. Supported keywords: ``type`` (one or a list), ``properties``, ``required``,
``additionalProperties: false``, ``items``, ``enum``. Other keywords are not checked.
"""

from __future__ import annotations

from typing import Any

_JSON_TYPES = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "null": type(None),
    "integer": int,
    "number": (int, float),
}


def schema_problems(value: Any, schema: dict[str, Any], where: str = "arguments") -> list[str]:
    """Every way ``value`` breaks ``schema``, each naming the path, e.g.
    ``arguments: missing required key 'city'`` or ``arguments.days: expected integer, got
    string '3'``. An empty list means the value fits."""
    problems = _type_problems(value, schema, where)
    if problems:
        return problems
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{where}: {value!r} is not one of {schema['enum']!r}")
    if isinstance(value, dict):
        problems += _object_problems(value, schema, where)
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            problems += schema_problems(item, schema["items"], f"{where}[{i}]")
    return problems


def json_type_name(value: Any) -> str:
    """The JSON name of a Python value's type ('string', 'integer', 'object', …)."""
    if isinstance(value, bool):
        return "boolean"
    for name in ("object", "array", "string", "integer", "number", "null"):
        if isinstance(value, _JSON_TYPES[name]):
            return name
    return type(value).__name__


def _type_problems(value: Any, schema: dict[str, Any], where: str) -> list[str]:
    wanted = schema.get("type")
    if wanted is None:
        return []
    names = wanted if isinstance(wanted, list) else [wanted]
    if any(_is_type(value, name) for name in names):
        return []
    return [f"{where}: expected {' or '.join(names)}, got {json_type_name(value)} {value!r}"]


def _is_type(value: Any, name: str) -> bool:
    if name not in _JSON_TYPES:
        return True  # an unknown type name is the schema's problem, not the model's
    if isinstance(value, bool):
        return name == "boolean"  # JSON true is not a number
    if name == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _JSON_TYPES[name])


def _object_problems(value: dict[str, Any], schema: dict[str, Any], where: str) -> list[str]:
    problems = [
        f"{where}: missing required key {key!r}"
        for key in schema.get("required", [])
        if key not in value
    ]
    properties = schema.get("properties", {})
    for key, item in value.items():
        if key in properties:
            problems += schema_problems(item, properties[key], f"{where}.{key}")
        elif schema.get("additionalProperties") is False:
            problems.append(
                f"{where}: unexpected key {key!r} (allowed: {', '.join(properties) or 'none'})"
            )
    return problems
