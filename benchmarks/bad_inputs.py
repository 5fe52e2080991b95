"""Try bad inputs on the planner and the tasks, as a careless or hurried operator gives them, and
count how each ends: a clear error (one message naming the key or option), a vague error, a
traceback, or acceptance (wrong when the value would reach a unit file, a shell or a path).

    .venv/bin/python benchmarks/bad_inputs.py [--verbose]

How the inputs are chosen:
- host data: every string, number, boolean and list key of the schema (vllm_fleet.hostdata)
  gets the same hostile values (empty, blank, a newline, a NUL, a command substitution, a
  semicolon, a space, "..", a relative path, 10 000 characters, the wrong type); serve_flags and
  serve_env get hostile names and values, and every flag or variable that can carry a credential;
- the controller: empty and blank secret variables;
- the command line: non-numbers, NaN, negatives and infinities for every numeric option, --help
  after every task, empty --api-key-env variables, output into missing folders.
A hostile string accepted for a host-data key counts as wrongly accepted (every key's value
reaches a unit file, a shell command, a path or a package name), except a key's valid default;
in a serve flag or variable value only a line break or NUL does (the value is one argv item,
quoted for systemd, so ";" or "$(...)" stay text), and so does any credential-like name.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import importlib.util
import io
import os
import sys
import traceback
import typing
from collections import Counter

from vllm_fleet.errors import FleetError
from vllm_fleet.hostdata import HostSettings
from vllm_fleet.paths import INVENTORY_DIR, REPO_ROOT
from vllm_fleet.serving.inventory import HostData, load_inventory
from vllm_fleet.serving.plan import Planner
from vllm_fleet.serving.secretnames import secrets_present

MANIFESTS = REPO_ROOT / "tests" / "fixtures" / "manifests"
HOSTILE_STRINGS = [
    "",
    "   ",
    "a\nb",
    "a\x00b",
    "$(id)",
    "a;b",
    "a b",
    "../x",
    "x/..",
    "rel/dir",
    "x" * 10_000,
]
WRONG_TYPES = [None, True, 1.5, [], {}]
NUMBERS = [-1, 0, 22, 70_000, 10**12]
# Values that look hostile but are valid: the empty PyPI mirror means PyPI (its default).
VALID = {("site_pip_index_url", "")}
FLAG_NAMES = ["api-key", "hf-token", "Bad Name", "--port", "port", "served-model-name"]
ENV_NAMES = [
    "HF_TOKEN",
    "HUGGING_FACE_HUB_TOKEN",
    "OPENAI_API_KEY",
    "VLLM_API_KEY",
    "S3_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "MY_DB_PASSWORD",
    "1BAD",
    "HF_HOME",
]
CLI = [
    ["smoke", "--url", "http://127.0.0.1:9", "--model", "m", "--wait", "abc"],
    ["smoke", "--url", "http://127.0.0.1:9", "--model", "m", "--wait", "nan"],
    ["smoke", "--url", "http://127.0.0.1:9", "--model", "m", "--wait", "-1"],
    ["smoke", "--url", "http://127.0.0.1:9", "--model", "m", "--timeout", "inf"],
    ["smoke", "--url", "http://127.0.0.1:9", "--model", "m", "--timeout", "0"],
    ["smoke", "--url", "http://127.0.0.1:9", "--model", "m", "--api-key-env", "EMPTY"],
    ["eval", "--url", "http://127.0.0.1:9", "--model", "m", "--limit", "abc"],
    ["eval", "--url", "http://127.0.0.1:9", "--model", "m", "--limit", "-3"],
    ["eval", "--url", "http://127.0.0.1:9", "--model", "m", "--api-key-env", "EMPTY"],
    ["eval", "--results", "x.json", "--max-stderr-drop", "nan"],
    ["bench", "--url", "http://127.0.0.1:9", "--model", "m", "--api-key-env", "EMPTY"],
    ["bench.compare", "no.json", "no.json", "--chart", "/nonexistent/dir/x.png"],
    ["plan", "--inventory", "no/such.py"],
    ["render", "--target", "tpu"],
]


@dataclasses.dataclass
class Outcome:
    case: str
    kind: str  # clear | vague | traceback | accepted | wrongly accepted
    detail: str


def hostile(value: object) -> bool:
    return isinstance(value, str) and (
        value.strip() != value
        or value == ""
        or any(c in value for c in "\n\x00$; ")
        or ".." in value.split("/")
        or len(value) > 1000
    )


def host_cases(base: HostData) -> list[tuple[str, str, object]]:
    hints = typing.get_type_hints(HostSettings)
    cases: list[tuple[str, str, object]] = []
    for field in dataclasses.fields(HostSettings):
        hint = str(hints[field.name])
        values: list[object] = list(WRONG_TYPES)
        if "str" in hint:
            values += HOSTILE_STRINGS
        if "int" in hint or "float" in hint:
            values += NUMBERS
        if "list" in hint:
            values += [[s] for s in HOSTILE_STRINGS[:8]]
        cases += [(f"{field.name}={v!r:.40}", field.name, v) for v in values]
    cases += [(f"serve_flags.{n}", "serve_flags", {n: "x"}) for n in FLAG_NAMES]
    cases += [
        (f"serve_flags value {s!r:.20}", "serve_flags", {"chat-template": s})
        for s in HOSTILE_STRINGS[2:6]
    ]
    cases += [(f"serve_env.{n}", "serve_env", {n: "x"}) for n in ENV_NAMES]
    cases += [(f"serve_env value {s!r:.20}", "serve_env", {"FOO": s}) for s in HOSTILE_STRINGS[2:6]]
    return cases


def try_host(planner: Planner, base: HostData, case: str, key: str, value: object) -> Outcome:
    data = {**base.data, key: value}
    host = HostData(base.name, data, {**base.sources, key: "inventory/bad.py"}, base.default_source)
    try:
        planner.spec(host)
    except FleetError as err:
        named = key in str(err) or "serve_" in key
        return Outcome(case, "clear" if named else "vague", str(err)[:160])
    except Exception:
        return Outcome(case, "traceback", traceback.format_exc(limit=-1).strip()[-200:])
    mapping = isinstance(value, dict) and value and key in ("serve_flags", "serve_env")
    inner = next(iter(value.values())) if mapping else value
    name = next(iter(value)) if mapping else ""
    secret_like = any(t in str(name).upper() for t in ("TOKEN", "KEY", "PASSWORD"))
    if mapping:  # an argv item or an env value: only a line break can escape its unit line
        wrong = secret_like or any(c in str(inner) for c in "\n\r\x00")
    else:
        wrong = hostile(inner) and (key, inner) not in VALID
    if isinstance(value, dict) and not value:
        wrong = False
    return Outcome(case, "wrongly accepted" if wrong else "accepted", "")


def try_env() -> list[Outcome]:
    out = []
    for name in ("VLLM_API_KEY", "HF_TOKEN"):
        for value in ("", "  ", "\n"):
            case = f"{name}={value!r}"
            try:
                secrets_present(environ={name: value})
                out.append(Outcome(case, "wrongly accepted", ""))
            except FleetError as err:
                out.append(Outcome(case, "clear" if name in str(err) else "vague", str(err)))
    return out


@functools.cache
def tasks_namespace():
    """tasks.py's collection, loaded once: what `invoke` runs, and the list of every task."""
    spec = importlib.util.spec_from_file_location("fleet_tasks", REPO_ROOT / "tasks.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ns


def run_invoke(args: list[str]) -> tuple[int, str, str]:
    from invoke import Program

    out, err = io.StringIO(), io.StringIO()
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            Program(namespace=tasks_namespace(), name="invoke", binary="inv[oke]").run(
                ["invoke", *args], exit=True
            )
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    except Exception:
        return 99, "", traceback.format_exc()
    return code, out.getvalue(), err.getvalue()


def try_cli() -> list[Outcome]:
    os.environ["EMPTY"] = ""
    out = []
    for args in CLI:
        code, _, err = run_invoke(args)
        case = " ".join(args)
        if "Traceback" in err or code == 99:
            out.append(Outcome(case, "traceback", err.strip()[-200:]))
        elif code == 0:
            out.append(Outcome(case, "wrongly accepted", ""))
        else:
            one_line = len(err.strip().splitlines()) == 1
            out.append(Outcome(case, "clear" if one_line else "vague", err.strip()[:160]))
    for task in sorted(tasks_namespace().task_names):
        code, stdout, err = run_invoke([task, "--help"])
        ok = code == 0 and stdout.startswith("Usage:") and not err
        out.append(
            Outcome(
                f"{task} --help",
                "clear" if ok else "traceback" if "Traceback" in err else "wrongly accepted",
                (err or stdout)[:120],
            )
        )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", action="store_true", help="print every case")
    args = parser.parse_args()
    os.chdir(REPO_ROOT)
    base = {h.name: h for h in load_inventory(INVENTORY_DIR / "prod.py")}[
        "h200-01.example.internal"
    ]
    planner = Planner(manifest_dir=MANIFESTS)
    outcomes = [try_host(planner, base, *case) for case in host_cases(base)]
    outcomes += try_env()
    outcomes += try_cli()
    counts = Counter(o.kind for o in outcomes)
    for outcome in outcomes:
        if args.verbose or outcome.kind in ("traceback", "wrongly accepted", "vague"):
            print(f"{outcome.kind:17} {outcome.case}: {outcome.detail}")
    print(f"bad inputs tried: {len(outcomes)}")
    for kind in ("clear", "vague", "traceback", "accepted", "wrongly accepted"):
        print(f"  {kind:17} {counts.get(kind, 0)}")
    return 1 if counts.get("traceback") or counts.get("wrongly accepted") else 0


if __name__ == "__main__":
    sys.exit(main())
