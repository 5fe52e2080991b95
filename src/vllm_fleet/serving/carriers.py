"""The flags and variables that can carry a credential (credential-carriers.yaml, with sources),
and the check that keeps them out of model files and host data."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from vllm_fleet.errors import ConfigError
from vllm_fleet.schema import Field, check_fields, load_yaml
from vllm_fleet.serving.layers import OWN
from vllm_fleet.serving.models import Setting

CARRIERS_FILE = Path(__file__).with_name("credential-carriers.yaml")
_ENTRY = {"why": Field(str), "instead": Field(str)}
_PATTERNS = {"flags": Field(str), "env": Field(str), "instead": Field(str)}


@dataclass(frozen=True)
class Carriers:
    flags: dict[str, tuple[str, str]]  # name -> (why, instead)
    env: dict[str, tuple[str, str]]
    flag_pattern: re.Pattern[str]
    env_pattern: re.Pattern[str]
    unlisted_instead: str
    allowed: frozenset[str]

    def refusal(self, kind: str, name: str) -> str | None:
        """Why ``name`` (a flag without dashes, or a variable) may not be set, or None."""
        listed = self.flags if kind == "flag" else self.env
        pattern = self.flag_pattern if kind == "flag" else self.env_pattern
        shown = f"--{name}" if kind == "flag" else name
        if name in self.allowed:
            return None
        if name in listed:
            why, instead = listed[name]
        elif pattern.search(name):
            why, instead = "its name says it holds a credential", self.unlisted_instead
        else:
            return None
        remedy = (
            f"give it through {instead}"
            if instead
            else "vllm-fleet has no credential path for it yet, so serve without it"
        )
        return (
            f"{shown} carries a secret ({why}): never in a model file or host data, where it "
            f"would land in the unit file, the command line and docker inspect; {remedy}"
        )


@cache
def carriers(path: Path = CARRIERS_FILE) -> Carriers:
    data = check_fields(
        path,
        "",
        load_yaml(path),
        {
            "flags": Field(dict),
            "env": Field(dict),
            "patterns": Field(dict),
            "allowed": Field(list, required=False),
        },
    )
    tables = {}
    for kind in ("flags", "env"):
        for name, entry in data[kind].items():
            check_fields(path, f"{kind}.{name}", entry, _ENTRY)
        tables[kind] = {n: (e["why"], e["instead"]) for n, e in data[kind].items()}
    patterns = check_fields(path, "patterns", data["patterns"], _PATTERNS)
    return Carriers(
        tables["flags"],
        tables["env"],
        re.compile(patterns["flags"]),
        re.compile(patterns["env"]),
        patterns["instead"],
        frozenset(data.get("allowed") or ()),
    )


def check_no_credentials(flags: dict[str, Setting], env: dict[str, Setting]) -> None:
    """ConfigError at the first flag or variable (outside vllm-fleet's own) that carries one."""
    table = carriers()
    for kind, settings in (("flag", flags), ("env", env)):
        for name, setting in settings.items():
            problem = table.refusal(kind, name)
            if problem and setting.path != OWN:
                raise ConfigError(setting.path, setting.key, problem)


def without_credentials(environ: dict[str, str]) -> dict[str, str]:
    """``environ`` minus every variable that can carry a credential: what a tool run from the
    controller (lm-eval, a bench container) may inherit."""
    table = carriers()
    return {name: value for name, value in environ.items() if not table.refusal("env", name)}
