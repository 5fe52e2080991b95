"""GPU drivers alone: `pyinfra inventory/prod.py deploy/drivers.py [--data reboot=true]`."""

from vllm_fleet.deploy.drivers import install_drivers

install_drivers()
