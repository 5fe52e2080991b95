"""The fleet's Hugging Face cache: olah on a `hub_cache` host, which serving hosts download
weights through (docs/hub-cache.md)."""
