"""Benchmarks and accuracy gates for live endpoints: the usage guide's measurements, rerun.

- presets.py: `vllm bench serve` workloads as data (benchmarks/presets.yaml)
- runner.py: runs `vllm bench serve` from a vLLM image through the Docker SDK
- results.py: --save-result files, and the guide's summary block
- compare.py / chart.py: the guide's "DCP Gain Analysis" table and a PNG of it
- kvcache.py: the KV-cache size a server logs at start-up (journal or container log)
- lmeval.py / gate.py: lm-eval's gsm8k against the endpoint, and the baseline gate
"""
