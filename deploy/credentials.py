"""Secrets alone (rotate the HF token or API key): `pyinfra INVENTORY deploy/credentials.py`.

A rotated API key takes effect at the service's next restart (deploy/serve.py restarts it).
"""

from vllm_fleet.deploy.account import install_service_account
from vllm_fleet.deploy.credentials import install_credentials

install_service_account()
install_credentials()
