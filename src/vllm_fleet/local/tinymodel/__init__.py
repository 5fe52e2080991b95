"""A tiny model that answers the smoke cases in Kimi-K2-Thinking's format, for CI on the CPU.

``build_tiny_model(image, out_dir)`` trains it inside the ``cpu`` serving image (train.py is the
standalone trainer); real ``vllm serve --tool-call-parser kimi_k2 --reasoning-parser kimi_k2``
then serves it, and ``invoke smoke`` passes every check against it. What the kimi_k2 parsers
need from a model, and so what this one is made of: docs/architecture.md, "What runs only
without a GPU".
"""

from vllm_fleet.local.tinymodel.build import build_tiny_model

__all__ = ["build_tiny_model"]
