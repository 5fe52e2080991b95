"""The test servers' flags come from models/kimi-tiny.yaml; they must stay the Kimi recipe
(the issue's flag list), or the live tests would prove a different server than the deploy runs."""

from __future__ import annotations

from vllm_fixtures import BASE_ARGS, GOOD_SERVER_ARGS, KIMI_PARSER_ARGS, SERVED_NAME, SERVER_ENV


def pairs(args: tuple[str, ...]) -> set[str]:
    """Flags with their values joined ('--dtype float32'), bare flags alone."""
    out, i = set(), 0
    while i < len(args):
        if i + 1 < len(args) and not args[i + 1].startswith("--"):
            out.add(f"{args[i]} {args[i + 1]}")
            i += 2
        else:
            out.add(args[i])
            i += 1
    return out


def test_good_server_is_the_kimi_recipe_on_the_cpu() -> None:
    assert pairs(GOOD_SERVER_ARGS) == {
        "--enable-auto-tool-choice",
        "--tool-call-parser kimi_k2",
        "--reasoning-parser kimi_k2",
        f"--served-model-name {SERVED_NAME}",
        "--max-model-len 512",
        "--dtype float32",
        "--enforce-eager",
    }
    assert SERVED_NAME == "kimi-tiny"


def test_base_args_carry_no_parser() -> None:
    assert not any("parser" in arg or "tool-choice" in arg for arg in BASE_ARGS)
    assert GOOD_SERVER_ARGS == BASE_ARGS + KIMI_PARSER_ARGS


def test_server_environment_is_offline_and_small() -> None:
    assert SERVER_ENV["VLLM_CPU_KVCACHE_SPACE"] == "1"
    assert SERVER_ENV["VLLM_ENABLE_V1_MULTIPROCESSING"] == "0"
    assert SERVER_ENV["HF_HUB_OFFLINE"] == "1"
