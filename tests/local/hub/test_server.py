"""The local hub answers the real huggingface_hub client the way huggingface.co does."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from huggingface_hub import snapshot_download
from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError, RevisionNotFoundError

from vllm_fleet.local.hub.server import HubServer


@pytest.fixture
def repos(tmp_path: Path) -> Path:
    repo = tmp_path / "repos" / "org" / "tiny"
    repo.mkdir(parents=True)
    (repo / "config.json").write_text('{"model_type": "llama"}\n')
    (repo / "model.safetensors").write_bytes(bytes(range(256)) * 64)
    return tmp_path / "repos"


@pytest.fixture
def hub(repos: Path) -> Iterator[HubServer]:
    server = HubServer(repos, token="canary-hub-token")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _download(hub: HubServer, cache: Path, repo: str = "org/tiny", **kwargs) -> Path:
    return Path(snapshot_download(repo, cache_dir=cache, endpoint=hub.url, **kwargs))


def test_snapshot_download_gets_every_file_once(hub: HubServer, tmp_path: Path) -> None:
    folder = _download(hub, tmp_path / "cache")
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]
    assert (folder / "model.safetensors").read_bytes() == bytes(range(256)) * 64
    served = hub.stats()["bytes_served"]
    assert served == 16384 + len('{"model_type": "llama"}\n')
    _download(hub, tmp_path / "cache")
    assert hub.stats()["bytes_served"] == served  # cached: nothing fetched again


def test_revision_is_stable_and_pinnable(hub: HubServer, tmp_path: Path, repos: Path) -> None:
    first = _download(hub, tmp_path / "a")
    assert _download(hub, tmp_path / "b", revision=first.name).name == first.name
    (repos / "org" / "tiny" / "config.json").write_text('{"model_type": "mistral"}\n')
    assert _download(hub, tmp_path / "c").name != first.name
    with pytest.raises(RevisionNotFoundError):
        _download(hub, tmp_path / "d", revision=first.name)


def test_missing_repository_is_repo_not_found(hub: HubServer, tmp_path: Path) -> None:
    with pytest.raises(RepositoryNotFoundError):
        _download(hub, tmp_path / "cache", repo="org/absent")


def test_gated_repository_needs_the_token(hub: HubServer, tmp_path: Path, repos: Path) -> None:
    (repos / "org" / "tiny" / ".gated").touch()
    with pytest.raises(GatedRepoError):
        _download(hub, tmp_path / "anon")
    with pytest.raises(GatedRepoError):
        _download(hub, tmp_path / "wrong", token="not-the-token")
    assert (_download(hub, tmp_path / "ok", token="canary-hub-token") / "config.json").exists()


def test_bytes_are_counted_per_file(hub: HubServer, tmp_path: Path) -> None:
    _download(hub, tmp_path / "cache")
    assert hub.stats()["bytes_per_file"] == {
        "org/tiny/config.json": len('{"model_type": "llama"}\n'),
        "org/tiny/model.safetensors": 16384,
    }


def test_a_range_gets_206_and_only_those_bytes(hub: HubServer) -> None:
    """What a resumed download and a pull-through cache's block fetches ask for."""
    import urllib.request

    url = f"{hub.url}/org/tiny/resolve/main/model.safetensors"
    request = urllib.request.Request(url, headers={"Range": "bytes=100-355"})
    with urllib.request.urlopen(request) as response:
        assert response.status == 206
        assert response.headers["Content-Range"] == "bytes 100-355/16384"
        assert response.read() == (bytes(range(256)) * 64)[100:356]
    with urllib.request.urlopen(urllib.request.Request(url, headers={"Range": "bytes=-6"})) as r:
        assert r.read() == bytes(range(250, 256))
    assert hub.stats()["bytes_per_file"] == {"org/tiny/model.safetensors": 256 + 6}


def test_paths_info_lists_the_named_files(hub: HubServer) -> None:
    from huggingface_hub import HfApi

    (info,) = HfApi(endpoint=hub.url).get_paths_info("org/tiny", ["model.safetensors"])
    assert (info.path, info.size) == ("model.safetensors", 16384)
    assert info.blob_id == hashlib.sha256(bytes(range(256)) * 64).hexdigest()
