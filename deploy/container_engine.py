"""Docker alone: `pyinfra inventory/prod.py deploy/container_engine.py`."""

from vllm_fleet.deploy.container_engine import install_container_engine

install_container_engine()
