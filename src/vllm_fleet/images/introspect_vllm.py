"""Print, as one JSON line, what the vLLM installed in this Python knows.

Runs INSIDE a built image (`python3 -c <this file>`, no network) and imports nothing of
vllm-fleet: only vLLM. Keys: vllm_version, env_vars (names in vllm.envs.environment_variables),
serve_flags (every option string `vllm serve` accepts, long and short forms), rocm_version (the
ROCm release of a ROCm image, from /opt/rocm/.info/version, else the HIP version torch was built
with; null elsewhere).
"""

import argparse
import json
import os
import sys

# Importing vLLM must not try to reach a hub or report usage while we only read its tables.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("VLLM_NO_USAGE_STATS", "1")


def serve_parser() -> argparse.ArgumentParser:
    """The parser `vllm serve` itself uses, built the way vLLM's CLI builds it."""
    from vllm.entrypoints.cli.serve import ServeSubcommand

    try:
        from vllm.utils.argparse_utils import FlexibleArgumentParser
    except ImportError:  # vLLM < 0.11 kept it in vllm.utils
        from vllm.utils import FlexibleArgumentParser

    root = FlexibleArgumentParser(prog="vllm")
    subparsers = root.add_subparsers(dest="subparser")
    return ServeSubcommand().subparser_init(subparsers)


def rocm_version():
    """The image's ROCm release (e.g. "7.2.0"), or None in an image without ROCm."""
    try:
        with open("/opt/rocm/.info/version") as info:
            return info.read().strip().split("-")[0] or None
    except OSError:
        pass
    try:
        import torch
    except ImportError:
        return None
    return getattr(torch.version, "hip", None)


def main() -> None:
    import vllm
    import vllm.envs

    flags = sorted({opt for action in serve_parser()._actions for opt in action.option_strings})
    facts = {
        "vllm_version": vllm.__version__,
        "env_vars": sorted(vllm.envs.environment_variables),
        "serve_flags": flags,
        "rocm_version": rocm_version(),
    }
    sys.stdout.write("\n" + json.dumps(facts) + "\n")


main()
