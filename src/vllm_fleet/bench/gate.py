"""The accuracy gate: is this endpoint's score still the profile's baseline, within noise?

A gsm8k score is a mean over 1319 questions, so it carries a standard error (lm-eval prints it:
0.9416 ± 0.0065). Two runs of an unchanged server differ by that much; a refusal must be based on
more. The gate compares the run with the profile's baseline (benchmarks/eval-gates.yaml) in
standard errors *of the difference* of two independent scores,

    drop = (baseline - score) / sqrt(stderr_baseline**2 + stderr_run**2)

and fails when ``drop > max_stderr_drop``. The guide's own TP8 -> TP8+DCP8 step (0.9416 ->
0.9386) is a drop of 0.32: DCP passes any sensible gate, as the guide says it should.

    spec = load_gates()
    score = read_score(Path("eval/kimi/results_2026-11-29T08-00-00.json"), spec)
    verdict = judge(score, spec.profiles["throughput"], spec.max_stderr_drop)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vllm_fleet.bench.results import read_json_object
from vllm_fleet.errors import ConfigError, ResultFileError, UnknownNameError
from vllm_fleet.paths import BENCHMARKS_DIR
from vllm_fleet.schema import Field, check_fields, load_yaml

GATES_FILE = BENCHMARKS_DIR / "eval-gates.yaml"

_GATE_FIELDS = {
    "task": Field(str),
    "num_fewshot": Field(int),
    "metric": Field(str),
    "filter": Field(str),
    "max_stderr_drop": Field((int, float)),
    "model_args": Field(dict),
    "profiles": Field(dict),
    "include_path": Field(str, required=False),
    "limit": Field(int, required=False),
}
_BASELINE_FIELDS = {
    "label": Field(str),
    "score": Field((int, float)),
    "stderr": Field((int, float)),
}
ModelArg = str | int | float | bool | None


@dataclass(frozen=True)
class Baseline:
    """A profile's published score and its standard error."""

    profile: str
    label: str
    score: float
    stderr: float


@dataclass(frozen=True)
class GateSpec:
    """What to run (task, shots, lm-eval model_args, an optional task folder) and the baselines
    to hold each profile to."""

    path: Path
    task: str
    num_fewshot: int
    metric: str
    filter: str
    max_stderr_drop: float
    model_args: dict[str, ModelArg]
    profiles: dict[str, Baseline]
    include_path: Path | None = None
    limit: int | None = None

    @property
    def result_key(self) -> str:
        """lm-eval's key for the score, e.g. ``exact_match,flexible-extract``."""
        return f"{self.metric},{self.filter}"

    @property
    def stderr_key(self) -> str:
        return f"{self.metric}_stderr,{self.filter}"

    def baseline(self, profile: str) -> Baseline:
        """The baseline of ``profile``; UnknownNameError lists the profiles the file has."""
        if profile not in self.profiles:
            raise UnknownNameError(self.path, "profiles", "profile", profile, list(self.profiles))
        return self.profiles[profile]


@dataclass(frozen=True)
class Score:
    """An lm-eval run's score for the gate's task and filter."""

    task: str
    value: float
    stderr: float | None
    num_fewshot: int
    samples: int | None
    source: str


@dataclass(frozen=True)
class Verdict:
    """The gate's decision and the numbers behind it."""

    score: Score
    baseline: Baseline
    max_stderr_drop: float
    combined_stderr: float
    drop: float
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.drop <= self.max_stderr_drop

    @property
    def floor(self) -> float:
        """The lowest score that passes."""
        return self.baseline.score - self.max_stderr_drop * self.combined_stderr

    def message(self) -> str:
        outcome = "passed" if self.passed else "FAILED"
        stderr = f"{self.score.stderr:.4f}" if self.score.stderr is not None else "n/a"
        return (
            f"accuracy gate {outcome}: {self.score.task} {self.score.value:.4f} ± {stderr} "
            f"vs {self.baseline.profile} baseline ({self.baseline.label}) "
            f"{self.baseline.score:.4f} ± {self.baseline.stderr:.4f}: "
            f"{_drop_words(self.drop)}, allowed {self.max_stderr_drop:g} "
            f"(lowest passing score {self.floor:.4f})"
        )


def judge(score: Score, baseline: Baseline, max_stderr_drop: float) -> Verdict:
    """Compare ``score`` with ``baseline``; see the module docstring for the arithmetic. A run
    without a standard error (lm-eval prints N/A for tiny samples) is judged on the baseline's."""
    notes = []
    run_stderr = score.stderr
    if run_stderr is None:
        notes.append("the run has no standard error; using the baseline's alone")
        run_stderr = 0.0
    combined = math.hypot(baseline.stderr, run_stderr)
    gap = baseline.score - score.value
    if combined > 0:
        drop = gap / combined
    else:  # no noise on either side: any fall fails
        drop = math.inf if gap > 0 else (-math.inf if gap < 0 else 0.0)
    return Verdict(score, baseline, float(max_stderr_drop), combined, drop, notes)


def load_gates(path: Path = GATES_FILE) -> GateSpec:
    """Read and check a gates file; ConfigError names the file and field."""
    data = check_fields(path, "", load_yaml(path), _GATE_FIELDS)
    for key, value in data["model_args"].items():
        if not isinstance(value, ModelArg) or "," in str(value) or key in ("model", "base_url"):
            raise ConfigError(
                path,
                f"model_args.{key}",
                f"{value!r} is not allowed: a single "
                "value without commas; model and base_url come from the command",
            )
    if data["max_stderr_drop"] < 0:
        raise ConfigError(path, "max_stderr_drop", "must be 0 or more (standard errors)")
    include = data.get("include_path")
    return GateSpec(
        path=path,
        task=data["task"],
        num_fewshot=data["num_fewshot"],
        metric=data["metric"],
        filter=data["filter"],
        max_stderr_drop=float(data["max_stderr_drop"]),
        model_args=dict(data["model_args"]),
        profiles=_baselines(path, data["profiles"]),
        include_path=(path.parent / include).resolve() if include else None,
        limit=data.get("limit"),
    )


def read_score(results_file: Path, spec: GateSpec) -> Score:
    """The gate's score from an lm-eval results JSON (``results_<date>.json``)."""
    data = read_json_object(results_file, "lm-eval's results file")
    task_results = _dig(results_file, data, "results", spec.task)
    if spec.result_key not in task_results:
        raise ResultFileError(
            results_file,
            f"results.{spec.task}.{spec.result_key}",
            f"missing; the run has {', '.join(sorted(task_results))}",
        )
    shots = data.get("n-shot", {}).get(spec.task)
    if shots != spec.num_fewshot:
        raise ResultFileError(
            results_file,
            f"n-shot.{spec.task}",
            f"the run is {shots}-shot, the baseline {spec.num_fewshot}-shot: not comparable",
        )
    samples = data.get("n-samples", {}).get(spec.task, {}).get("effective")
    return Score(
        spec.task,
        _number(results_file, spec.result_key, task_results),
        _optional_number(task_results.get(spec.stderr_key)),
        shots,
        samples,
        str(results_file),
    )


def model_args_string(model: str, completions_url: str, extra: dict[str, ModelArg]) -> str:
    """lm-eval's ``--model_args``: ``model=M,base_url=U,k=v,...`` (None is lm-eval's None)."""
    pairs = {"model": model, "base_url": completions_url, **extra}
    return ",".join(f"{key}={'None' if value is None else value}" for key, value in pairs.items())


def _baselines(path: Path, profiles: dict) -> dict[str, Baseline]:
    baselines = {}
    for name, body in profiles.items():
        check_fields(path, f"profiles.{name}", body, _BASELINE_FIELDS)
        if not 0 <= body["score"] <= 1 or body["stderr"] < 0:
            raise ConfigError(
                path, f"profiles.{name}", "score must be within 0..1 and stderr 0 or more"
            )
        baselines[str(name)] = Baseline(
            str(name), body["label"], float(body["score"]), float(body["stderr"])
        )
    if not baselines:
        raise ConfigError(path, "profiles", "no profile defined; add at least one baseline")
    return baselines


def _dig(path: Path, data: dict[str, Any], *keys: str) -> dict[str, Any]:
    node: Any = data
    for depth, key in enumerate(keys):
        if not isinstance(node, dict) or key not in node:
            raise ResultFileError(
                path,
                ".".join(keys[: depth + 1]),
                "missing (is this lm-eval's results JSON for this task?)",
            )
        node = node[key]
    return node


def _number(path: Path, key: str, mapping: dict[str, Any]) -> float:
    value = mapping[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ResultFileError(path, key, f"expected a number, got {value!r}")
    return float(value)


def _optional_number(value: Any) -> float | None:
    """lm-eval writes ``"N/A"`` when it cannot estimate a standard error."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _drop_words(drop: float) -> str:
    if drop > 0:
        return f"{drop:.2f} standard errors below"
    if drop < 0:
        return f"{-drop:.2f} standard errors above"
    return "level with it"
