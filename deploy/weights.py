"""Weights alone (pre-stage a new revision): `pyinfra INVENTORY deploy/weights.py`.

Through the fleet's hub cache when the inventory has one (it must be up: deploy/serve.py or
deploy/hub_cache.py installs it). Hosts that serve no model are left alone."""

from vllm_fleet.deploy.account import install_service_account
from vllm_fleet.deploy.context import serves_a_model
from vllm_fleet.deploy.credentials import install_credentials
from vllm_fleet.deploy.weights import download_weights

if serves_a_model():
    install_service_account()
    install_credentials()
    download_weights()
