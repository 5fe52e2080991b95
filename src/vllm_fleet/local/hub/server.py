"""A small Hugging Face Hub for a machine that cannot reach huggingface.co.

It serves model repositories from a folder (``ROOT/<org>/<name>/...``) over the part of the Hub's
HTTP API that ``huggingface_hub.snapshot_download`` and ``vllm serve org/name`` use, so the real
clients run unchanged with ``HF_ENDPOINT`` pointing here, and so does a pull-through mirror in
front of it (olah asks for ``paths-info`` and reads files in byte ranges). A repository with a
``.gated`` file needs ``Authorization: Bearer <token>`` with the token from ``--token-file``, as a
gated model on the Hub does. ``GET /_stats`` reports the bytes served, in all and per file
(``org/name/path``), which is how "weights are downloaded once" is measured.

Standard library only: it runs on the controller or, with ``python3`` alone, in a container.

    python3 server.py --root DIR --port 8080 [--host 0.0.0.0] [--token-file FILE]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

GATED_MARKER = ".gated"
# One byte range, as olah and huggingface_hub's resume ask for it (RFC 9110 section 14.1.2).
SINGLE_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")


class Repo:
    """One repository folder: its files, their hashes, and a revision derived from them."""

    def __init__(self, folder: Path, repo_id: str) -> None:
        self.id = repo_id
        self.folder = folder
        self.gated = (folder / GATED_MARKER).exists()
        self.files = sorted(
            p.relative_to(folder).as_posix()
            for p in folder.rglob("*")
            if p.is_file() and not p.name.startswith(".")
        )
        self.oids = {name: _sha256(folder / name) for name in self.files}
        # The commit id: a hash of every path and content hash, so a change makes a new one.
        listing = "".join(f"{name}\0{self.oids[name]}\n" for name in self.files)
        self.sha = hashlib.sha1(listing.encode()).hexdigest()

    def info(self) -> dict:
        return {
            "id": self.id,
            "modelId": self.id,
            "sha": self.sha,
            "private": False,
            "gated": "manual" if self.gated else False,
            "siblings": [{"rfilename": name} for name in self.files],
        }

    def tree(self, paths: list[str] | None = None) -> list[dict]:
        """The listing, or (for ``paths-info``) the entries of the named files that exist."""
        names = self.files if paths is None else [n for n in paths if n in self.oids]
        return [
            {
                "type": "file",
                "path": name,
                "oid": self.oids[name],
                "size": (self.folder / name).stat().st_size,
            }
            for name in names
        ]


# Content hashes by (path, size, mtime): a request hashes only files that changed since, so a
# large file does not cost a full read on every one of the many requests a download makes.
_HASHES: dict[tuple[str, int, int], str] = {}


def _sha256(path: Path) -> str:
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _HASHES:
        _HASHES[key] = _hash_file(path)
    return _HASHES[key]


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class HubHandler(BaseHTTPRequestHandler):
    server: HubServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args) -> None:  # quiet unless asked
        if self.server.verbose:
            super().log_message(format, *args)

    def do_HEAD(self) -> None:
        self._route(send_body=False)

    def do_GET(self) -> None:
        self._route(send_body=True)

    def do_POST(self) -> None:
        """``paths-info``: the Hub's listing of named files (a form field ``paths``, repeated)."""
        self.server.count_request()
        parts = [p for p in unquote(urlsplit(self.path).path).split("/") if p]
        length = int(self.headers.get("Content-Length") or 0)
        form = parse_qs(self.rfile.read(length).decode())
        if parts[:2] != ["api", "models"] or len(parts) != 6 or parts[4] != "paths-info":
            return self._error(404, "EntryNotFound", f"no route for {self.path}", True)
        repo = self._repo(f"{parts[2]}/{parts[3]}", True)
        if repo is not None and self._revision_ok(repo, parts[5], True):
            self._json(200, repo.tree(form.get("paths", [])), True)

    def _route(self, send_body: bool) -> None:
        path = unquote(urlsplit(self.path).path)
        self.server.count_request()
        if path == "/_stats":
            return self._json(200, self.server.stats(), send_body)
        parts = [p for p in path.split("/") if p]
        if parts[:2] == ["api", "models"] and len(parts) >= 4:
            return self._api(parts[2:], send_body)
        if len(parts) >= 5 and parts[2] == "resolve":
            return self._resolve(f"{parts[0]}/{parts[1]}", parts[3], "/".join(parts[4:]), send_body)
        self._error(404, "EntryNotFound", f"no route for {path}", send_body)

    def _api(self, parts: list[str], send_body: bool) -> None:
        repo = self._repo(f"{parts[0]}/{parts[1]}", send_body)
        if repo is None:
            return
        rest = parts[2:]
        if not rest:
            return self._json(200, repo.info(), send_body)
        if (
            rest[0] in ("revision", "tree")
            and len(rest) >= 2
            and not self._revision_ok(repo, rest[1], send_body)
        ):
            return
        if rest[0] == "revision":
            return self._json(200, repo.info(), send_body)
        if rest[0] == "tree":
            return self._json(200, repo.tree(), send_body)
        self._error(404, "EntryNotFound", "unknown API path", send_body)

    def _resolve(self, repo_id: str, revision: str, name: str, send_body: bool) -> None:
        repo = self._repo(repo_id, send_body)
        if repo is None or not self._revision_ok(repo, revision, send_body):
            return
        if repo.gated and not self._authorized():
            return self._error(401, "GatedRepo", f"access to {repo_id} is restricted", send_body)
        if name not in repo.oids:
            return self._error(404, "EntryNotFound", f"{name} not in {repo_id}", send_body)
        path = repo.folder / name
        size = path.stat().st_size
        start, end = self._byte_range(size)
        self.send_response(206 if (start, end) != (0, size) else 200)
        if (start, end) != (0, size):
            self.send_header("Content-Range", f"bytes {start}-{end - 1}/{size}")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(end - start))
        self.send_header("ETag", f'"{repo.oids[name]}"')
        self.send_header("X-Repo-Commit", repo.sha)
        self.end_headers()
        if send_body:
            self._send_file(path, start, end, f"{repo_id}/{name}")

    def _send_file(self, path: Path, start: int, end: int, counted_as: str) -> None:
        """Bytes [start, end) in 1 MiB chunks, each counted before it is sent: once a client
        has every byte, the count has them too."""
        with path.open("rb") as handle:
            handle.seek(start)
            while start < end:
                chunk = handle.read(min(1 << 20, end - start))
                if not chunk:
                    break
                self.server.count_bytes(counted_as, len(chunk))
                self.wfile.write(chunk)
                start += len(chunk)

    def _byte_range(self, size: int) -> tuple[int, int]:
        """[start, end) of the one range asked for, or the whole file (no or another Range)."""
        match = SINGLE_RANGE.match(self.headers.get("Range", "").strip())
        if not match or match.groups() == ("", ""):
            return 0, size
        first, last = match.groups()
        if not first:  # a suffix: the last N bytes
            return max(size - int(last), 0), size
        return min(int(first), size), min(int(last) + 1 if last else size, size)

    def _repo(self, repo_id: str, send_body: bool) -> Repo | None:
        folder = self.server.root / repo_id
        if not folder.is_dir() or ".." in repo_id:
            self._error(404, "RepoNotFound", f"repository {repo_id} not found", send_body)
            return None
        return Repo(folder, repo_id)

    def _revision_ok(self, repo: Repo, revision: str, send_body: bool) -> bool:
        if revision in ("main", repo.sha):
            return True
        self._error(404, "RevisionNotFound", f"revision {revision} not in {repo.id}", send_body)
        return False

    def _authorized(self) -> bool:
        token = self.server.token
        return bool(token) and self.headers.get("Authorization", "") == f"Bearer {token}"

    def _json(self, status: int, payload: object, send_body: bool) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def _error(self, status: int, code: str, message: str, send_body: bool) -> None:
        body = json.dumps({"error": message}).encode()
        self.send_response(status)
        self.send_header("X-Error-Code", code)
        self.send_header("X-Error-Message", message)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if send_body:
            self.wfile.write(body)


class HubServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        root: Path,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
        verbose: bool = False,
    ) -> None:
        super().__init__((host, port), HubHandler)
        self.root = root
        self.token = token
        self.verbose = verbose
        self._lock = threading.Lock()
        self._bytes: dict[str, int] = {}
        self._requests = 0

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def count_bytes(self, path: str, size: int) -> None:
        with self._lock:
            self._bytes[path] = self._bytes.get(path, 0) + size

    def count_request(self) -> None:
        with self._lock:
            self._requests += 1

    def stats(self) -> dict:
        with self._lock:
            return {
                "bytes_served": sum(self._bytes.values()),
                "bytes_per_file": dict(self._bytes),
                "requests": self._requests,
            }


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve model repositories like the HF Hub.")
    parser.add_argument("--root", type=Path, required=True, help="folder of <org>/<name> repos")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--token-file", type=Path, help="token that gated repos require")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    token = args.token_file.read_text().strip() if args.token_file else None
    server = HubServer(args.root, args.host, args.port, token, args.verbose)
    print(f"serving {args.root} at {server.url}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
