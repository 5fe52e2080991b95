"""Secrets never reach pyinfra's output: the credential uploads at -vvv --diff, on a first
deploy (file created) and on a rotation (file changed), on a ``@fake`` host (a stand-in: the
commands are exactly those a real host gets; the slow sandbox canary checks a real one)."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from .plan_harness import operations, run_deploy, write_inventory

REMOTE_KEY = "/etc/vllm-fleet/vllm-api-key"
# A remote key file that exists with other contents (a rotation): stat and sha256sum answers.
ROTATION = {
    f"sha256sum {REMOTE_KEY}": ["0" * 64 + f"  {REMOTE_KEY}"],
    f"%N' {REMOTE_KEY}": [
        f"user=root group=root mode=-rw------- atime=0 mtime=0 ctime=0 size=40 '{REMOTE_KEY}'"
    ],
}


@pytest.mark.parametrize("responses", [{}, ROTATION], ids=["first deploy", "rotation"])
def test_credential_uploads_never_show_at_vvv_diff(tmp_path: Path, responses: dict) -> None:
    key, token = (f"canary-{secrets.token_hex(8)}" for _ in range(2))
    files = {}
    for name, value in (("api-key", key), ("hf-token", token)):
        files[name] = tmp_path / name
        files[name].write_text(value + "\n")
        files[name].chmod(0o600)
    inventory = write_inventory(
        tmp_path,
        "nvidia_h200",
        "h200-01",
        "ubuntu-24.04",
        {"vllm_api_key_file": str(files["api-key"]), "hf_token_file": str(files["hf-token"])},
        responses,
    )
    result = run_deploy(inventory, "deploy/serve.py", "-vvv", "--diff")
    output = result.stdout + result.stderr
    assert "Credential vllm_api_key" in output, output[-3000:]
    ops = operations(output)
    upload = ops[f"Credentials | Credential vllm_api_key -> {REMOTE_KEY}"]
    assert f"chmod 640 {REMOTE_KEY}" in upload  # root:root 0640: the server user reads it
    assert key not in output and token not in output


def test_the_deploy_prints_the_plans_warnings(tmp_path: Path) -> None:
    """Without an API key the endpoint is open: the deploy says so in its own output, as
    `invoke plan` does, not only the plan."""
    inventory = write_inventory(tmp_path, "nvidia_h200", "h200-01", "ubuntu-24.04", {}, {})
    result = run_deploy(inventory)
    output = result.stdout + result.stderr
    assert (
        "h200-01: warning: no API key (vllm_api_key_file or VLLM_API_KEY on the controller): "
        "the /v1 endpoints on port 8000 are open to anyone who can reach them"
    ) in output, output[-3000:]
    assert "is pinned by tag only; pin it by digest" in output
