"""pyinfra deploys that take a host from a plain OS to a running, verified vLLM service.

Each concern is one ``@deploy`` in its own module (drivers, container engine, credentials, image,
weights, service, ready gate) so it also runs alone from ``deploy/<concern>.py``. All of them read
the host's resolved ServeSpec (vllm_fleet.serving) through ``context.host_spec()``: nothing here
re-derives a flag, a path or a port.
"""
