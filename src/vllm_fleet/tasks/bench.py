"""Bench tasks: rerun the usage guide's benchmark on your hosts, and compare two runs. Thin.

    invoke bench --url http://10.0.0.5:8000 --model kimi-k2-thinking --preset guide --out runs \\
        --label TP8 --image vllm/vllm-openai:v0.11.2 --journal-host gpu-01
    invoke bench.compare runs/TP8-….json runs/TP8+DCP8-….json --chart runs/gain.png --baseline
"""

from __future__ import annotations

import sys
from pathlib import Path

from invoke import Collection, Exit, task

from vllm_fleet.bench.compare import gain_rows, load_baseline, markdown_table, versus_baseline_table
from vllm_fleet.bench.kvcache import KvCache, parse_kv_cache, read_journal, read_log_file
from vllm_fleet.bench.presets import PRESETS_FILE, get_preset, load_presets
from vllm_fleet.bench.results import differences, load_result, summary_lines
from vllm_fleet.bench.runner import default_image, run_bench
from vllm_fleet.errors import FleetError
from vllm_fleet.extras import require
from vllm_fleet.hostdata import settings_for
from vllm_fleet.serving.inventory import load_inventory, select_host
from vllm_fleet.serving.secretnames import required_secret


def _preset_names() -> str:
    try:
        return "|".join(load_presets())
    except FleetError:
        return f"see {PRESETS_FILE.name}"


@task(
    default=True,
    help={
        "url": "The server's base URL, e.g. http://10.0.0.5:8000 (a trailing /v1 is fine).",
        "model": "The served model name requests carry (the unit's --served-model-name).",
        "preset": f"Workload from benchmarks/presets.yaml: {_preset_names()}.",
        "out": "Folder for the raw --save-result JSON and the tool's console log.",
        "image": "vLLM image whose `vllm bench serve` runs the load (default: the cpu image "
        "in build/images/cpu.json; any local vLLM image works).",
        "tokenizer": "Tokenizer: a local model folder (mounted read-only) or a hub id; needed "
        "when the served name is not a hub id (default: the model name).",
        "label": "This run's name in tables, charts and the result file's name, e.g. TP8 or "
        "TP8+DCP8 (default: the file's name: preset, model, time).",
        "kv_from": "A saved server log (journalctl -u vllm-serve -b, docker logs) to read the "
        "start-up KV cache size from; shown and stored with the result.",
        "journal_host": "Read the KV cache size from this host's service journal over "
        "pyinfra's SSH connection (a host name in --inventory).",
        "inventory": "pyinfra inventory that names --journal-host (its SSH data and unit name).",
        "api_key_env": "Name of the environment variable holding the server's API key (the "
        "key never goes on a command line; no other credential is passed).",
    },
)
def bench(
    c,
    url,
    model,
    preset="guide",
    out="bench-results",
    image=None,
    tokenizer=None,
    label=None,
    kv_from=None,
    journal_host=None,
    inventory="inventory/prod.py",
    api_key_env=None,
):
    """Benchmark an endpoint with `vllm bench serve`, run from a vLLM image.

    Keeps the raw --save-result JSON and the tool's log in --out, and prints the guide's summary
    block with the server's start-up KV cache size (--kv-from or --journal-host)."""
    try:
        api_key = required_secret(api_key_env, "--api-key-env") if api_key_env else None
        chosen = get_preset(preset)
        kv_cache = _kv_cache(kv_from, journal_host, inventory)
        run = run_bench(
            url,
            model,
            chosen,
            Path(out),
            image or default_image(),
            tokenizer=tokenizer,
            label=label,
            metadata=kv_cache.metadata() if kv_cache else None,
            api_key=api_key,
            on_output=_to_stderr,
        )
    except FleetError as err:
        raise Exit(f"bench: {err}") from None
    rows = kv_cache.rows() if kv_cache else []
    print("\n".join(summary_lines(run.result, rows)))
    print(f"result: {run.result_file}\nlog:    {run.log_file}")


@task(
    help={
        "a": "The first run's --save-result JSON (before, e.g. TP8).",
        "b": "The second run's --save-result JSON (after, e.g. TP8+DCP8).",
        "chart": "Also write a PNG chart of both runs to this file (needs the bench extra: "
        "matplotlib).",
        "baseline": "Set the runs beside the guide's published TP8 and TP8+DCP8 figures "
        "(benchmarks/guide-baseline.yaml): a second table and grey bars.",
        "force": "Compare even runs of different models, presets or load (default: refused).",
    },
)
def compare(c, a, b, chart=None, baseline=False, force=False):
    """Print the guide's DCP gain table for two bench runs; optionally a PNG chart.

    The "DCP Gain Analysis" rows: request and output throughput, mean and median TTFT (lower is
    better, so a fall is a positive improvement); --baseline adds the guide's own runs."""
    try:
        if chart:
            require("bench")  # before any output: the chart is what was asked for
        runs = [load_result(a), load_result(b)]
        unlike = differences(*runs)
        if unlike and not force:
            raise Exit(
                f"bench.compare: {a} and {b} are not runs of the same model and workload "
                f"({'; '.join(unlike)}), so their gain means nothing; pass --force to "
                "compare them anyway"
            )
        guide = load_baseline() if baseline else None
        print(markdown_table(gain_rows(*runs), runs[0].label, runs[1].label))
        if guide:
            print(f"\nAgainst the usage guide ({guide[0].extras['published']}):\n")
            print(versus_baseline_table(runs, guide))
        if chart:
            from vllm_fleet.bench.chart import write_chart  # matplotlib: the bench extra

            print(f"\nchart: {write_chart(runs, Path(chart), baseline=guide)}")
    except (FleetError, OSError) as err:
        raise Exit(f"bench.compare: {err}") from None


def _kv_cache(kv_from: str | None, journal_host: str | None, inventory: str) -> KvCache | None:
    """The start-up KV cache from a saved log or a host's journal (None when neither is given;
    a warning when the text has no KV cache line)."""
    if kv_from:
        text, where = read_log_file(kv_from), kv_from
    elif journal_host:
        host = select_host(load_inventory(inventory), journal_host, inventory)
        unit = settings_for(host).vllm_unit_name
        text, where = read_journal(inventory, host.name, unit), f"{host.name}:{unit}"
    else:
        return None
    kv_cache = parse_kv_cache(text)
    if kv_cache is None:
        print(
            f"bench: warning: no 'KV cache size' line in {where}; has the server finished "
            "starting since the last boot?",
            file=sys.stderr,
        )
    return kv_cache


def _to_stderr(text: str) -> None:
    sys.stderr.write(text)
    sys.stderr.flush()


ns = Collection("bench", bench, compare)
