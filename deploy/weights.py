"""Weights alone (pre-stage a new revision): `pyinfra INVENTORY deploy/weights.py`."""

from vllm_fleet.deploy.account import install_service_account
from vllm_fleet.deploy.credentials import install_credentials
from vllm_fleet.deploy.weights import download_weights

install_service_account()
install_credentials()
download_weights()
