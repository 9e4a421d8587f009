"""A stand-in for the Hugging Face Hub's file endpoints, served on 127.0.0.1 for tests.

It answers what huggingface_hub's downloads ask for (read from its `file_download.py` and
`hf_api.py`): HEAD and GET on `/{repo}/resolve/{revision}/{path}` with ETag, X-Repo-Commit,
Content-Length and Range; `/api/models/{repo}/revision/{revision}` and
`/api/models/{repo}/tree/{revision}` for snapshots. Errors carry the Hub's X-Error-Code.
It never sends `X-Xet-Hash`, the header that would send the client to Xet storage.
"""

from __future__ import annotations

import hashlib
import json
import re
from urllib.parse import unquote, urlsplit

from .loopback import LoopbackServer, StubHandler


class HubStub(LoopbackServer):
    """Serves `repos` ({repo id: {path: bytes}}); use as a context manager."""

    def __init__(self, repos: dict[str, dict[str, bytes]]):
        self.repos = repos
        self.requests: list[tuple[str, str, dict[str, str]]] = []  # method, path, lower-cased headers
        self.drop_once: set[str] = set()  # paths whose first full GET is cut off half-way
        super().__init__(_Handler)

    @property
    def url(self) -> str:
        return self.root

    def commit(self, repo: str) -> str:
        return hashlib.sha1(repo.encode()).hexdigest()


_RESOLVE = re.compile(r"^/(?P<repo>[^/]+/[^/]+)/resolve/(?P<revision>[^/]+)/(?P<path>.+)$")
_API = re.compile(r"^/api/models/(?P<repo>[^/]+/[^/]+)/(?P<kind>revision|tree)/(?P<revision>[^/]+)$")


class _Handler(StubHandler):
    stub: HubStub

    def do_HEAD(self) -> None:
        self._route(body=False)

    def do_GET(self) -> None:
        self._route(body=True)

    def _route(self, body: bool) -> None:
        path = unquote(urlsplit(self.path).path)
        self.stub.requests.append((self.command, path, {k.lower(): v for k, v in self.headers.items()}))
        if match := _RESOLVE.match(path):
            self._resolve(match["repo"], match["revision"], match["path"], body)
        elif match := _API.match(path):
            self._api(match["repo"], match["kind"], match["revision"])
        else:
            self._error(404, None, "not a Hub endpoint")

    def _repo_files(self, repo: str, revision: str) -> dict[str, bytes] | None:
        """The repo's files, or None once an error has been sent."""
        if repo not in self.stub.repos:
            # The Hub answers 401 for a repo it will not show an anonymous caller.
            self._error(401, "RepoNotFound", "Repository not found")
            return None
        if revision not in ("main", self.stub.commit(repo)):
            self._error(404, "RevisionNotFound", "Invalid rev id")
            return None
        return self.stub.repos[repo]

    def _resolve(self, repo: str, revision: str, path: str, body: bool) -> None:
        files = self._repo_files(repo, revision)
        if files is None:
            return
        commit = self.stub.commit(repo)
        if path not in files:
            self._error(404, "EntryNotFound", "Entry not found", {"X-Repo-Commit": commit})
            return
        data = files[path]
        start = _range_start(self.headers.get("Range"))
        headers = {
            "ETag": f'"{hashlib.sha256(data).hexdigest()}"',
            "X-Repo-Commit": commit,
            "Accept-Ranges": "bytes",
            "Content-Type": "application/octet-stream",
        }
        if start:
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        cut = body and not start and path in self.stub.drop_once
        if cut:
            self.stub.drop_once.discard(path)
        self._send(206 if start else 200, data[start:], headers, body=body, cut=cut)

    def _api(self, repo: str, kind: str, revision: str) -> None:
        files = self._repo_files(repo, revision)
        if files is None:
            return
        if kind == "revision":
            info = {"id": repo, "sha": self.stub.commit(repo), "siblings": [{"rfilename": p} for p in files]}
        else:
            info = [
                {"type": "file", "path": p, "size": len(d), "oid": hashlib.sha1(d).hexdigest()}
                for p, d in files.items()
            ]
        self._send(200, json.dumps(info).encode(), {"Content-Type": "application/json"})

    def _error(
        self, status: int, code: str | None, message: str, extra: dict[str, str] | None = None
    ) -> None:
        headers = {"Content-Type": "application/json", "X-Error-Message": message, **(extra or {})}
        if code:
            headers["X-Error-Code"] = code
        self._send(status, json.dumps({"error": message}).encode(), headers, body=self.command != "HEAD")

    def _send(
        self, status: int, data: bytes, headers: dict[str, str], body: bool = True, cut: bool = False
    ) -> None:
        self.send_response(status)
        for name, value in {**headers, "Content-Length": str(len(data))}.items():
            self.send_header(name, value)
        self.end_headers()
        if not body:
            return
        if cut:
            # Promise the whole file, send half, hang up: what a dropped connection looks like.
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(data)


def _range_start(header: str | None) -> int:
    match = re.fullmatch(r"bytes=(\d+)-", header or "")
    return int(match[1]) if match else 0
