from .sandbox_harness import host, local_hub  # noqa: F401  (fixtures for the modules here)
