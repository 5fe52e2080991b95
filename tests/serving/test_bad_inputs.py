"""Bad inputs an operator in a hurry might give, each refused with its exact message before
anything connects (issue 11): strings that would reach systemd, the shell or a path; secrets
through side doors; secret files others can read; empty secrets; duplicate YAML keys; unlike
inventories. Tables are data: (case, what changes, the exact message)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from vllm_fleet.errors import ConfigError, EmptySecretError
from vllm_fleet.serving.inventory import HostData, inventory_warnings, load_inventory
from vllm_fleet.serving.models import load_model
from vllm_fleet.serving.plan import Planner
from vllm_fleet.serving.secretnames import secrets_present

from .conftest import TEST_SOURCE as T

_PATH = (
    "is not an absolute, shell-safe path: start with / and use only letters, digits and "
    ". _ + - / (no .., no spaces: it goes into unit files and shell commands), e.g. "
    "/var/lib/vllm-fleet"
)
_UNIT = (
    "is not a valid unit name: systemd allows letters, digits and : - _ . (systemd.unit(5)), "
    "and the same name is the container's and goes into shell commands, so use "
    "[A-Za-z0-9][A-Za-z0-9_.-]*, at most 247 characters, e.g. vllm-serve"
)
_IMAGE = (
    "is not an image reference: expected [registry[:port]/]name[:tag][@sha256:digest] with "
    "a lowercase name, e.g. registry.example:5000/vllm-fleet/cuda:0.32.0 or "
    "vllm/vllm-openai@sha256:<64 hex digits>"
)
_URL = (
    "is not an http(s) URL without spaces, quotes or shell characters, e.g. https://huggingface.co"
)
_LINE = (
    "holds a newline or control character, which would break out of its line in the unit "
    "file; write it on one line without control characters"
)
_LANDS = (
    "never in a model file or host data, where it would land in the unit file, the command "
    "line and docker inspect"
)
_API_KEY_PATH = "give it through vllm_api_key_file in host data or VLLM_API_KEY on the controller"
_HF_PATH = "give it through hf_token_file in host data or HF_TOKEN on the controller"
_NO_PATH = "vllm-fleet has no credential path for it yet, so serve without it"
_S3 = (
    "AWS credentials, read by boto3 when vLLM loads weights from S3 "
    "(https://docs.aws.amazon.com/cli/latest/userguide/cli-configure-envvars.html)"
)

# (case, host data changes, exact message)
BAD_HOST_DATA = [
    (
        "unit name escaping /etc/systemd/system",
        {"vllm_unit_name": "../evil"},
        f"{T}: vllm_unit_name: '../evil' {_UNIT}",
    ),
    (
        "unit name with a space",
        {"vllm_unit_name": "vllm serve"},
        f"{T}: vllm_unit_name: 'vllm serve' {_UNIT}",
    ),
    (
        "unit name that is a systemd template",
        {"vllm_unit_name": "vllm@1"},
        f"{T}: vllm_unit_name: 'vllm@1' {_UNIT}",
    ),
    (
        "relative data folder",
        {"vllm_data_dir": "data/vllm"},
        f"{T}: vllm_data_dir: 'data/vllm' {_PATH}",
    ),
    (
        "data folder with a space",
        {"vllm_data_dir": "/srv/my data"},
        f"{T}: vllm_data_dir: '/srv/my data' {_PATH}",
    ),
    (
        "data folder climbing out",
        {"vllm_data_dir": "/srv/../etc"},
        f"{T}: vllm_data_dir: '/srv/../etc' {_PATH}",
    ),
    (
        "secrets folder with a command substitution",
        {"vllm_secrets_dir": "/etc/$(id)"},
        f"{T}: vllm_secrets_dir: '/etc/$(id)' {_PATH}",
    ),
    ("relative docker client", {"docker_bin": "docker"}, f"{T}: docker_bin: 'docker' {_PATH}"),
    (
        "venv folder with a semicolon",
        {"vllm_venv_dir": "/opt/v;rm"},
        f"{T}: vllm_venv_dir: '/opt/v;rm' {_PATH}",
    ),
    ("empty image reference", {"image": ""}, f"{T}: image: '' {_IMAGE}"),
    (
        "image reference with a space",
        {"image": "registry/foo bar:1"},
        f"{T}: image: 'registry/foo bar:1' {_IMAGE}",
    ),
    (
        "image reference with an empty tag",
        {"image": "vllm/vllm-openai:"},
        f"{T}: image: 'vllm/vllm-openai:' {_IMAGE}",
    ),
    (
        "image reference with a short digest",
        {"image": "vllm/vllm-openai@sha256:123"},
        f"{T}: image: 'vllm/vllm-openai@sha256:123' {_IMAGE}",
    ),
    (
        "image reference in upper case",
        {"image": "UPPER/case:1"},
        f"{T}: image: 'UPPER/case:1' {_IMAGE}",
    ),
    (
        "vLLM on the ssh port",
        {"vllm_port": 22},
        f"{T}: vllm_port: 22 is a well-known system port (below 1024, e.g. 22 is ssh); use "
        "1024-65535, or set allow_system_port: true if vLLM really belongs there",
    ),
    (
        "a newline in an environment value",
        {"serve_env": {"FOO": "a\nExecStartPost=/bin/id"}},
        f"{T}: serve_env.FOO: 'a\\nExecStartPost=/bin/id' {_LINE}",
    ),
    (
        "a carriage return in a flag value",
        {"serve_flags": {"chat-template": "x\ry"}},
        f"{T}: serve_flags.chat-template: 'x\\ry' {_LINE}",
    ),
    (
        "the HF token as a flag",
        {"serve_flags": {"hf-token": "hf_abc"}},
        f"{T}: serve_flags.hf-token: --hf-token carries a secret (the Hugging Face token "
        "vllm serve "
        "downloads with (https://docs.vllm.ai/en/stable/cli/serve/, --hf-token)): "
        f"{_LANDS}; {_HF_PATH}",
    ),
    (
        "the API key as a flag",
        {"serve_flags": {"api-key": "k"}},
        f"{T}: serve_flags.api-key: --api-key carries a secret (vllm serve's API key "
        f"(https://docs.vllm.ai/en/stable/cli/serve/, --api-key)): {_LANDS}; {_API_KEY_PATH}",
    ),
    (
        "a token flag nobody listed",
        {"serve_flags": {"my-service-token": "t"}},
        f"{T}: serve_flags.my-service-token: --my-service-token carries a secret (its name says it "
        f"holds a credential): {_LANDS}; {_NO_PATH}",
    ),
    (
        "huggingface_hub's older token variable",
        {"serve_env": {"HUGGING_FACE_HUB_TOKEN": "hf_x"}},
        f"{T}: serve_env.HUGGING_FACE_HUB_TOKEN: HUGGING_FACE_HUB_TOKEN carries a secret "
        "(huggingface_hub's older name for HF_TOKEN, still read (huggingface_hub constants.py, "
        f"_OLD_HF_TOKEN_ENV)): {_LANDS}; {_HF_PATH}",
    ),
    (
        "the HF token variable",
        {"serve_env": {"HF_TOKEN": "hf_x"}},
        f"{T}: serve_env.HF_TOKEN: HF_TOKEN carries a secret (huggingface_hub's access token "
        "(https://huggingface.co/docs/huggingface_hub/package_reference/environment_variables"
        f"#hftoken)): {_LANDS}; {_HF_PATH}",
    ),
    (
        "the OpenAI key variable",
        {"serve_env": {"OPENAI_API_KEY": "sk"}},
        f"{T}: serve_env.OPENAI_API_KEY: OPENAI_API_KEY carries a secret (the OpenAI client's key "
        f"(https://github.com/openai/openai-python#usage)): {_LANDS}; {_API_KEY_PATH} (the key "
        "clients send)",
    ),
    (
        "an object-store secret",
        {"serve_env": {"AWS_SECRET_ACCESS_KEY": "x"}},
        f"{T}: serve_env.AWS_SECRET_ACCESS_KEY: AWS_SECRET_ACCESS_KEY carries a secret ({_S3}): "
        f"{_LANDS}; {_NO_PATH}",
    ),
    (
        "a token variable nobody listed",
        {"serve_env": {"MY_SERVICE_TOKEN": "x"}},
        f"{T}: serve_env.MY_SERVICE_TOKEN: MY_SERVICE_TOKEN carries a secret (its name says it "
        f"holds a credential): {_LANDS}; {_NO_PATH}",
    ),
    (
        "a Hub URL without a scheme",
        {"hf_endpoint": "huggingface.co"},
        f"{T}: hf_endpoint: 'huggingface.co' {_URL}",
    ),
    (
        "a Hub URL with a shell command",
        {"hf_endpoint": "https://hf.co; rm -rf /"},
        f"{T}: hf_endpoint: 'https://hf.co; rm -rf /' {_URL}",
    ),
    (
        "a ready-gate URL with a space",
        {"vllm_url": "http://h:8000 x"},
        f"{T}: vllm_url: 'http://h:8000 x' {_URL}",
    ),
    (
        "an ftp PyPI mirror",
        {"site_pip_index_url": "ftp://x"},
        f"{T}: site_pip_index_url: 'ftp://x' {_URL}",
    ),
    (
        "a driver package with a command",
        {"nvidia_driver_packages": {"open": ["cuda-drivers-580; reboot"]}},
        f"{T}: nvidia_driver_packages: open: item 0: 'cuda-drivers-580; reboot' is not a "
        "package name "
        "(Debian: lowercase letters, digits and + - ., plus {branch})",
    ),
    (
        "a GPU user with a space",
        {"amd_gpu_users": ["Bad User"]},
        f"{T}: amd_gpu_users: item 0: 'Bad User' is not a user name (useradd: [a-z_][a-z0-9_-]*, "
        "at most 32 characters)",
    ),
    (
        "a model name climbing out of models/",
        {"model": "../../etc/passwd"},
        f"{T}: model: '../../etc/passwd' is not a plain name: use letters, digits and . _ + - "
        "(no / "
        "or spaces; it becomes part of a file or package name), at most 128 characters",
    ),
    (
        "a driver branch with a slash",
        {"nvidia_driver_branch": "580/../x"},
        f"{T}: nvidia_driver_branch: '580/../x' is not a plain name: use letters, digits and . _ + "
        "- (no / or spaces; it becomes part of a file or package name), at most 128 characters",
    ),
    (
        "a log size in words",
        {"docker_log_max_size": "100 MB"},
        f"{T}: docker_log_max_size: '100 MB' is not a log size: a whole number with k, m or g, "
        "e.g. "
        "100m",
    ),
    (
        "a manifest folder that is not there",
        {"image_manifest_dir": "/no/such/manifests"},
        f"{T}: image_manifest_dir: '/no/such/manifests' is not a folder on this machine (the "
        "controller)",
    ),
    (
        "a CA bundle that is not there",
        {"site_ca_bundle": ""},
        f"{T}: site_ca_bundle: '' is not a file on this machine (the controller)",
    ),
    (
        "a secret file name with a NUL",
        {"vllm_api_key_file": "key\x00"},
        f"{T}: vllm_api_key_file: 'key\\x00' is not a path (it holds a NUL character)",
    ),
]


@pytest.mark.parametrize(
    ("case", "changes", "message"), BAD_HOST_DATA, ids=[case for case, _, _ in BAD_HOST_DATA]
)
def test_bad_host_data_is_refused_with_its_reason(
    case: str, changes: dict, message: str, manifest_dir: Path, host_with: Callable[..., HostData]
) -> None:
    with pytest.raises(ConfigError) as raised:
        Planner(manifest_dir=manifest_dir).spec(host_with(**changes))
    assert str(raised.value) == message


ACCEPTED = [
    ("a system port, explicitly allowed", {"vllm_port": 80, "allow_system_port": True}),
    (
        "huggingface_hub's switch that only looks like a token",
        {"serve_env": {"HF_HUB_DISABLE_IMPLICIT_TOKEN": "1"}},
    ),
    (
        "an image on a registry with a port, by digest",
        {"image": "127.0.0.1:5000/vllm-fleet/cpu@sha256:" + "a" * 64},
    ),
]


@pytest.mark.parametrize(("case", "changes"), ACCEPTED, ids=[case for case, _ in ACCEPTED])
def test_what_only_looks_bad_is_accepted(
    case: str, changes: dict, manifest_dir: Path, host_with: Callable[..., HostData]
) -> None:
    Planner(manifest_dir=manifest_dir).spec(host_with(**changes))


# (case, file contents or None for no file, mode, the problem after "<key>: <path>: ")
SECRET_FILES = [
    ("missing", None, 0o600, "no such file or directory on this machine (the controller)"),
    ("empty", "", 0o600, "the file is empty; put the secret in it"),
    (
        "readable by everyone",
        "k\n",
        0o644,
        "mode 0644 lets other users read the secret; `chmod 600 {path}` (0600 or stricter)",
    ),
    (
        "readable by the group",
        "k\n",
        0o640,
        "mode 0640 lets other users read the secret; `chmod 600 {path}` (0600 or stricter)",
    ),
]


@pytest.mark.parametrize("key", ["hf_token_file", "vllm_api_key_file"])
@pytest.mark.parametrize(
    ("case", "text", "mode", "problem"), SECRET_FILES, ids=[case for case, *_ in SECRET_FILES]
)
def test_secret_files_are_checked_without_reading_them(
    key: str,
    case: str,
    text: str | None,
    mode: int,
    problem: str,
    tmp_path: Path,
    manifest_dir: Path,
    host_with: Callable[..., HostData],
) -> None:
    path = tmp_path / "secret"
    if text is not None:
        path.write_text(text)
        path.chmod(mode)
    with pytest.raises(ConfigError) as raised:
        Planner(manifest_dir=manifest_dir).spec(host_with(**{key: str(path)}))
    assert str(raised.value) == f"{T}: {key}: {path}: " + problem.format(path=path)


@pytest.mark.parametrize(("name", "what"), [("VLLM_API_KEY", "API key"), ("HF_TOKEN", "HF token")])
@pytest.mark.parametrize("value", ["", "   "], ids=["empty", "blank"])
def test_an_empty_secret_is_an_error_not_no_secret(name: str, what: str, value: str) -> None:
    with pytest.raises(EmptySecretError) as raised:
        secrets_present(environ={name: value})
    assert str(raised.value) == (
        f"{name} is set but empty on this machine; an empty value is not "
        f"'no {what}': export the real value, or `unset {name}` to "
        "deploy without one"
    )


def test_an_absent_secret_is_no_secret_and_a_set_one_counts() -> None:
    assert secrets_present(environ={}) == []
    assert secrets_present(environ={"VLLM_API_KEY": "k", "HF_TOKEN": "t"}) == [
        "HF_TOKEN",
        "VLLM_API_KEY",
    ]


DUPLICATE_KEYS = [
    ("top level", "name: a\nname: b\n", "line 2", "duplicate key 'name' (first on line 1)"),
    (
        "nested",
        "profiles:\n  latency:\n    flags: {}\n    flags: {}\n",
        "line 4",
        "duplicate key 'flags' (first on line 3)",
    ),
]


@pytest.mark.parametrize(
    ("case", "text", "line", "problem"), DUPLICATE_KEYS, ids=[case for case, *_ in DUPLICATE_KEYS]
)
def test_duplicate_yaml_keys_are_an_error(
    case: str, text: str, line: str, problem: str, tmp_path: Path
) -> None:
    (tmp_path / "dup.yaml").write_text(text)
    with pytest.raises(ConfigError) as raised:
        load_model("dup", tmp_path)
    assert str(raised.value) == (
        f"{tmp_path}/dup.yaml: {line}: not valid YAML ({problem}: the "
        "later value would silently win; keep one)"
    )


def _inventory(tmp_path: Path, text: str, groups: dict[str, str]) -> Path:
    (tmp_path / "group_data").mkdir()
    for name, body in groups.items():
        (tmp_path / "group_data" / f"{name}.py").write_text(body)
    path = tmp_path / "fleet.py"
    path.write_text(text)
    return path


def test_an_empty_inventory_is_an_error(tmp_path: Path) -> None:
    path = _inventory(tmp_path, "# no hosts yet\n", {})
    with pytest.raises(ConfigError) as raised:
        load_inventory(path)
    assert str(raised.value) == (
        f"{path}: no hosts: define a group as a module-level list of "
        'host names, e.g. gpu = ["gpu-01.example"] (pyinfra\'s inventory '
        "format)"
    )


def test_a_host_in_two_groups_that_disagree_is_an_error(tmp_path: Path) -> None:
    path = _inventory(
        tmp_path,
        'a = ["h1"]\nb = ["h1"]\n',
        {"a": 'profile = "latency"\n', "b": 'profile = "throughput"\n'},
    )
    with pytest.raises(ConfigError) as raised:
        load_inventory(path)
    assert str(raised.value) == (
        f"{tmp_path}/group_data/b.py: profile: host h1 is in groups 'a' and 'b', which set it "
        "differently ('latency' and 'throughput'); pyinfra would silently use 'b''s: set it in "
        "one group, or in the host's own data"
    )


def test_the_hosts_own_data_settles_a_group_disagreement(tmp_path: Path) -> None:
    path = _inventory(
        tmp_path,
        'a = [("h1", {"profile": "latency"})]\nb = ["h1"]\n',
        {"a": 'profile = "latency"\n', "b": 'profile = "throughput"\n'},
    )
    (host,) = load_inventory(path)
    assert host.data["profile"] == "latency"


def test_dropped_and_ignored_groups_are_reported(tmp_path: Path) -> None:
    path = _inventory(
        tmp_path,
        'gpu = ["h1"]\nspare = ("h2", "h3")\n',
        {"gpu": "", "h200": 'profile = "latency"\n'},
    )
    assert inventory_warnings(path) == [
        f"{tmp_path}/group_data/h200.py: no host of {path} is in group 'h200', so this data "
        "applies to no host here",
        f"{path}: spare: pyinfra ignores it as a group (a group is a list of host names or "
        "(name, data) tuples, optionally as (hosts, data)); its hosts are not deployed",
    ]


def test_the_controllers_empty_key_stops_the_plan_task(tmp_path: Path) -> None:
    """`invoke plan` with VLLM_API_KEY="" must not plan an open endpoint."""
    import subprocess
    import sys

    from vllm_fleet.paths import REPO_ROOT

    env = {**os.environ, "VLLM_API_KEY": ""}
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "invoke"), "plan", "--inventory", "inventory/prod.py"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        "VLLM_API_KEY is set but empty on this machine; an empty value is not 'no API key': "
        "export the real value, or `unset VLLM_API_KEY` to deploy without one"
    )


def test_a_group_of_a_sibling_inventory_is_not_dropped(tmp_path: Path) -> None:
    """group_data/ beside the inventories is shared (prod.py and sandbox.py here)."""
    path = _inventory(tmp_path, 'gpu = ["h1"]\n', {"gpu": "", "h200": 'profile = "latency"\n'})
    (tmp_path / "other.py").write_text('h200 = ["h9"]\n')
    assert inventory_warnings(path) == []
