"""vllm-fleet's pyinfra facts, tested the way pyinfra tests its own (its tests/facts/): each
facts/<Fact>/<case>.json gives the fact's arguments, optionally the exact command, the command's
output lines, and the fact that output must give. Edge cases are cases: an empty or partial Hub
snapshot, a missing mount point, a unit that does not exist, a GPU tool without its driver.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pyinfra.api import FactBase

from vllm_fleet.deploy import facts, gpufacts

FACTS = Path(__file__).parent / "facts"
CASES = sorted((p.parent.name, p.stem) for p in FACTS.glob("*/*.json"))


def _fact(name: str) -> FactBase:
    cls = getattr(facts, name, None) or getattr(gpufacts, name)
    return cls()


@pytest.mark.parametrize("fact_name,case", CASES, ids=[f"{f}/{c}" for f, c in CASES])
def test_fact(fact_name: str, case: str) -> None:
    data = json.loads((FACTS / fact_name / f"{case}.json").read_text())
    fact = _fact(fact_name)
    command = fact.command(**data.get("arg", {}))
    if "command" in data:
        assert command == data["command"]
    assert fact.process(data["output"]) == data["fact"]


def test_every_fact_has_cases() -> None:
    defined = {
        name
        for module in (facts, gpufacts)
        for name, obj in vars(module).items()
        if isinstance(obj, type)
        and issubclass(obj, FactBase)
        and obj is not FactBase
        and obj.__module__ == module.__name__
    }
    assert defined == {fact for fact, _ in CASES}


def test_hub_snapshot_command_runs_against_a_real_cache(tmp_path: Path) -> None:
    """The shell of HubSnapshot, run for real on a cache laid out as huggingface_hub does."""
    import subprocess

    sha = "0" * 39 + "1"
    repo = tmp_path / "hub" / "models--org--m"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(sha)
    snapshot = repo / "snapshots" / sha
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    (snapshot / "model.safetensors").write_bytes(b"x" * 10)
    fact = facts.HubSnapshot()

    def run() -> dict:
        out = subprocess.run(
            ["sh", "-c", fact.command(str(tmp_path), "org/m", "main")],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
        return fact.process(out)

    assert run() == {
        "commit": sha,
        "complete": False,
        "problems": ["no completed download recorded"],
    }
    record = tmp_path / facts.COMPLETE_DIR / "models--org--m"
    record.mkdir(parents=True)
    (record / sha).write_text("2 config.json\n10 model.safetensors\n")
    assert run() == {"commit": sha, "complete": True, "problems": []}
    (snapshot / "model.safetensors").write_bytes(b"x" * 4)  # a shard cut short
    assert run()["problems"] == ["model.safetensors has 4 of 10 bytes"]
    (snapshot / "model.safetensors").unlink()
    assert run()["problems"] == ["model.safetensors is missing"]
