"""A local Hugging Face Hub (server.py) for machines that cannot reach huggingface.co."""
