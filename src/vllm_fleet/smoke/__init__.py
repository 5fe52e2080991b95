"""The smoke suite: prove a live vLLM endpoint works the way Kimi-K2-Thinking's clients need.

    from vllm_fleet.smoke import run_smoke
    report = run_smoke("http://127.0.0.1:8000", "kimi-k2-thinking", wait=1800)

``invoke smoke`` (src/vllm_fleet/tasks/smoke.py) and the deploy's ready gate call ``run_smoke``;
the requests come from a case file (``smoke/cases.yaml``), see cases.py.
"""

from vllm_fleet.smoke.cases import DEFAULT_CASES, SmokeCases, load_cases
from vllm_fleet.smoke.report import CheckResult, SmokeReport
from vllm_fleet.smoke.runner import CHECK_NAMES, run_smoke, select_checks

__all__ = [
    "CHECK_NAMES",
    "DEFAULT_CASES",
    "CheckResult",
    "SmokeCases",
    "SmokeReport",
    "load_cases",
    "run_smoke",
    "select_checks",
]
