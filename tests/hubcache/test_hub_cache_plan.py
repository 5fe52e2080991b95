"""The hub caches of an inventory, resolved without connecting: who runs one, what it holds,
where each serving host downloads from, the files the cache host gets, and every bad input as
one line naming the file and the field."""

from __future__ import annotations

import json
import shutil
import tomllib
from pathlib import Path

import pytest
from invoke import Context

from vllm_fleet.errors import ConfigError
from vllm_fleet.hubcache import render
from vllm_fleet.hubcache.spec import resolve_hub_caches, weights_endpoints
from vllm_fleet.paths import INVENTORY_DIR
from vllm_fleet.serving.inventory import load_inventory
from vllm_fleet.serving.models import load_model
from vllm_fleet.tasks.plan import plan

PROD = str(INVENTORY_DIR / "prod.py")
SERVING = [
    "h200-01.example.internal",
    "h200-02.example.internal",
    "mi300x-01.example.internal",
    "mi300x-02.example.internal",
]
CACHE = "router-01.example.internal"


def fleet(tmp_path: Path, hub_cache: str, group_data: dict[str, str] | None = None) -> Path:
    """prod's serving hosts, router and group data, with a ``hub_cache`` group of our own and
    ``group_data`` added to (or making) a group's file."""
    folder = tmp_path / "inv"
    shutil.copytree(INVENTORY_DIR / "group_data", folder / "group_data")
    for name, text in (group_data or {}).items():
        group_file = folder / "group_data" / f"{name}.py"
        group_file.write_text((group_file.read_text() if group_file.exists() else "") + text)
    rest = (INVENTORY_DIR / "prod.py").read_text().split("\nhub_cache = [", 1)[0]
    path = folder / "fleet.py"
    path.write_text(f"{rest}\nhub_cache = {hub_cache}\n")
    return path


def test_prod_cache_holds_the_model_once_for_every_serving_host() -> None:
    (spec,) = resolve_hub_caches(load_inventory(PROD))
    model = load_model("kimi-k2-thinking")
    assert (spec.host, spec.url, spec.group) == (CACHE, f"http://{CACHE}:8090", "hub_cache")
    assert spec.clients == tuple(SERVING)
    # Four hosts, one revision: one copy on the cache's disk.
    assert [(m.repo_id, m.revision) for m in spec.models] == [(model.repo_id, model.revision)]
    assert spec.size_bytes == model.size_bytes
    assert (spec.upstream, spec.cache_dir) == ("https://huggingface.co", "/data/hub-cache")


def test_serving_hosts_download_through_the_cache_and_without_one_from_the_hub(
    tmp_path: Path,
) -> None:
    endpoints = weights_endpoints(load_inventory(PROD))
    assert endpoints == {h: f"http://{CACHE}:8090" for h in SERVING}
    assert resolve_hub_caches(load_inventory(fleet(tmp_path, "[]"))) == []
    without = weights_endpoints(load_inventory(fleet(tmp_path / "b", "[]")))
    assert without == {h: "https://huggingface.co" for h in SERVING}


def test_olah_config_is_toml_pointing_upstream_and_at_its_own_address() -> None:
    (spec,) = resolve_hub_caches(load_inventory(PROD))
    config = tomllib.loads(render.olah_config(spec))
    assert config["basic"] == {
        "host": "0.0.0.0",
        "port": 8090,
        "repos-path": "/data/hub-cache/repos",
        "hf-scheme": "https",
        "hf-netloc": "huggingface.co",
        # huggingface.co's LFS files come from its CDN: olah's own default knows it.
        "mirror-scheme": "http",
        "mirror-netloc": f"{CACHE}:8090",
        "mirror-lfs-netloc": f"{CACHE}:8090",
    }
    assert config["accessibility"] == {"offline": False}


def test_a_site_mirror_upstream_serves_its_own_lfs_files(tmp_path: Path) -> None:
    path = fleet(
        tmp_path,
        f"[({CACHE!r}, {{'hf_endpoint': 'https://hf-mirror.corp:8443/'}})]",
    )
    (spec,) = resolve_hub_caches(load_inventory(path))
    basic = tomllib.loads(render.olah_config(spec))["basic"]
    assert (basic["hf-netloc"], basic["hf-lfs-netloc"]) == ("hf-mirror.corp:8443",) * 2


def test_offline_cache_answers_from_its_disk_only(tmp_path: Path) -> None:
    path = fleet(tmp_path, f"[({CACHE!r}, {{'hub_cache_offline': True}})]")
    (spec,) = resolve_hub_caches(load_inventory(path))
    assert tomllib.loads(render.olah_config(spec))["accessibility"] == {"offline": True}
    assert "offline)" in render.unit(spec)


def test_cache_unit_runs_pinned_olah_unprivileged_writing_only_its_cache() -> None:
    (spec,) = resolve_hub_caches(load_inventory(PROD))
    unit = render.unit(spec)
    assert (
        "ExecStart=/opt/vllm-fleet/hub-cache/bin/olah-cli \\\n"
        "    --config /opt/vllm-fleet/hub-cache/etc/olah.toml \\\n"
        "    --log-path /data/hub-cache/logs\n"
    ) in unit
    for line in (
        "User=vllm-hub-cache",
        "ReadWritePaths=/data/hub-cache",
        "ProtectSystem=strict",
        "Restart=always",
        "# olah (PyPI olah==0.5.4)",
    ):
        assert line in unit, line
    # No credential anywhere in its files: hosts' requests carry their own token.
    assert "token" not in render.olah_config(spec).lower()


def test_a_cache_host_without_a_data_folder_is_one_clear_error(tmp_path: Path) -> None:
    path = fleet(tmp_path, '["cache-01.internal"]')
    (path.parent / "group_data" / "hub_cache.py").unlink()
    with pytest.raises(ConfigError) as info:
        resolve_hub_caches(load_inventory(path))
    message = str(info.value)
    assert "hub_cache_dir: missing: cache host cache-01.internal (group 'hub_cache')" in message
    assert "\n" not in message


def test_a_host_pointed_at_a_cache_group_with_no_host_is_one_clear_error(tmp_path: Path) -> None:
    path = fleet(tmp_path, "[]", {"nvidia_h200": "hub_cache_group = 'site_cache'\n"})
    with pytest.raises(ConfigError) as info:
        weights_endpoints(load_inventory(path))
    message = str(info.value)
    assert message.startswith(f"{path.parent / 'group_data' / 'nvidia_h200.py'}: hub_cache_group")
    assert "\n" not in message
    assert "downloads through group 'site_cache', which has no host" in message


def test_a_host_may_name_its_own_cache_group(tmp_path: Path) -> None:
    extra = "\nsite_cache = ['cache-02.internal']\n"
    path = fleet(tmp_path, f"[{CACHE!r}]{extra}", {"site_cache": "hub_cache_dir = '/srv/c'\n"})
    path.write_text(
        path.read_text().replace(
            '"mi300x-02.example.internal"',
            '("mi300x-02.example.internal", {"hub_cache_group": "site_cache"})',
        )
    )
    specs = {s.host: s for s in resolve_hub_caches(load_inventory(path))}
    assert specs["cache-02.internal"].clients == ("mi300x-02.example.internal",)
    assert specs[CACHE].clients == tuple(SERVING[:3])
    assert weights_endpoints(load_inventory(path))["mi300x-02.example.internal"] == (
        "http://cache-02.internal:8090"
    )


def test_plan_shows_the_cache_and_where_hosts_download_from(
    capsys: pytest.CaptureFixture[str],
) -> None:
    plan(Context(), inventory=PROD, allow_unvalidated=True)
    out = capsys.readouterr().out
    assert f"weights from: http://{CACHE}:8090" in out
    assert f"hosts download from: http://{CACHE}:8090  (upstream https://huggingface.co" in out
    assert "/opt/vllm-fleet/hub-cache/etc/olah.toml:" in out
    plan(Context(), inventory=PROD, host=CACHE, json=True)
    (cache,) = [e for e in json.loads(capsys.readouterr().out) if e["role"] == "hub_cache"]
    assert cache["clients"] == SERVING
    assert set(cache["files"]) == {
        "/etc/systemd/system/vllm-hub-cache.service",
        "/opt/vllm-fleet/hub-cache/etc/olah.toml",
    }
