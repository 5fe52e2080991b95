"""vllm-fleet: build, deploy and verify vLLM serving on your own GPU servers."""
