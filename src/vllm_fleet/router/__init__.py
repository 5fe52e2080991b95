"""One endpoint for a pool of serving hosts: vllm-router (PyPI `vllm-router`, the vLLM project's
Rust router) on 127.0.0.1, HAProxy in front of it forwarding only the API routes, and a small
reconciler that adds each worker once its /health answers (docs/router.md)."""
