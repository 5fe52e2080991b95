"""The local hub answers the real huggingface_hub client the way huggingface.co does."""

from __future__ import annotations

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
