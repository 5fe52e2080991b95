"""Numeric task options, parsed with one clear error instead of a traceback. invoke passes what
the operator typed as a string (a default of None or a float gives no type to cast to)."""

from __future__ import annotations

import math

from invoke import Exit


def number(
    task: str,
    option: str,
    value: object,
    *,
    unit: str,
    minimum: float = 0,
    whole: bool = False,
    example: str = "",
) -> float:
    """``value`` as a finite number >= ``minimum`` (a whole number if ``whole``), or Exit:
    ``smoke: --wait abc: expected a number of seconds, 0 or more (e.g. 120)``."""
    text = str(value).strip()
    try:
        parsed = float(text)
    except ValueError:
        parsed = math.nan
    if whole and math.isfinite(parsed) and parsed != int(parsed):
        parsed = math.nan
    if not math.isfinite(parsed) or parsed < minimum:
        kind = "a whole number" if whole else "a number"
        hint = f" (e.g. {example})" if example else ""
        raise Exit(
            f"{task}: {option} {value}: expected {kind} of {unit}, {minimum:g} or more{hint}"
        )
    return int(parsed) if whole else parsed
