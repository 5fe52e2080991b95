"""A small, strict reader for the repository's YAML data files.

Every data file is checked against a table of fields (tests-as-data style) so that a missing or
mistyped key fails with one line naming the file, the field, and what would be valid, before any
image is built or host touched.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from vllm_fleet.errors import ConfigError


@dataclass(frozen=True)
class Field:
    """One allowed key of a mapping: its type(s) and whether it must be present."""

    types: type | tuple[type, ...]
    required: bool = True


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a key given twice in one mapping is an error (PyYAML
    keeps the last silently; YAML 1.2 section 3.2.1.1 requires keys to be unique)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)  # type: ignore[no-untyped-call]
            if isinstance(key, list | dict):
                continue  # unhashable: the base class reports it
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key {key!r} (first on line {seen[key]}): the later "
                    "value would silently win; keep one",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep)


def load_yaml(path: Path) -> dict[str, Any]:
    """Read ``path`` as a YAML mapping, or raise ConfigError naming the file (and the line of a
    syntax error or a duplicate key)."""
    try:
        data = yaml.load(path.read_text(), Loader=_UniqueKeyLoader)  # a SafeLoader: plain data only
    except FileNotFoundError:
        raise ConfigError(path, "", "file not found") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else ""
        raise ConfigError(path, where, f"not valid YAML ({getattr(err, 'problem', err)})") from None
    if not isinstance(data, dict):
        raise ConfigError(path, "", "expected a mapping at the top level")
    return data


def check_fields(path: Path, where: str, data: Any, fields: dict[str, Field]) -> dict[str, Any]:
    """Check ``data`` (found at ``where`` in ``path``) against ``fields``; return it unchanged."""
    if not isinstance(data, dict):
        raise ConfigError(path, where, f"expected a mapping, got {type(data).__name__}")
    for key in data:
        if key not in fields:
            raise ConfigError(path, _join(where, key), _unknown_key_hint(key, fields))
    for key, spec in fields.items():
        dotted = _join(where, key)
        if key not in data:
            if spec.required:
                raise ConfigError(path, dotted, "missing (required)")
            continue
        value = data[key]
        # bool is an int in Python; a YAML `yes` must not pass for a number.
        is_bool_for_number = isinstance(value, bool) and bool not in _as_tuple(spec.types)
        if not isinstance(value, spec.types) or is_bool_for_number:
            raise ConfigError(
                path,
                dotted,
                f"expected {_type_names(spec.types)}, got {type(value).__name__} {value!r}",
            )
    return data


def _unknown_key_hint(key: str, fields: dict[str, Field]) -> str:
    close = difflib.get_close_matches(str(key), list(fields), n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown key; {hint}valid keys: {', '.join(fields)}"


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else str(key)


def _as_tuple(types: type | tuple[type, ...]) -> tuple[type, ...]:
    return types if isinstance(types, tuple) else (types,)


def _type_names(types: type | tuple[type, ...]) -> str:
    names = {
        dict: "a mapping",
        list: "a list",
        str: "a string",
        int: "an integer",
        bool: "true/false",
        float: "a number",
        type(None): "null",
    }
    return " or ".join(names.get(t, t.__name__) for t in _as_tuple(types))
