"""Saved sessions: one append-only JSON-lines file per conversation, in the user data dir.

The first line describes the session; every following line is one message, written as soon
as the loop adds it, so a crash loses at most the message being generated. A line of kind
"masked" or "compacted" holds the whole history as compaction left it and replaces the lines
before it; a half-written last line (a kill mid-write) is cut when the session is loaded.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from .messages import Message, UserMessage

_message = TypeAdapter(Message)
SESSIONS_DIR_ENV = "GEMMA_CODE_SESSIONS_DIR"


class SessionInfo(BaseModel):
    model_config = ConfigDict(frozen=True)
    id: str
    workspace: str
    model: str
    created: str
    title: str = ""  # the first user message, shortened; filled in when listing


class HistoryRewrite(BaseModel):
    """A saved-session line that replaces the history before it (compaction, masking)."""

    model_config = ConfigDict(frozen=True)
    kind: str
    messages: list[Message]


class SessionNotFound(Exception):
    """No saved session with that id (or none at all for this workspace)."""


def default_sessions_dir() -> Path:
    import platformdirs

    override = os.environ.get(SESSIONS_DIR_ENV)
    return Path(override) if override else Path(platformdirs.user_data_dir("gemma-code")) / "sessions"


class SessionFile:
    """One saved conversation, open for appending."""

    def __init__(self, path: Path, info: SessionInfo) -> None:
        self.path, self.info = path, info

    def append(self, messages: Sequence[Message]) -> None:
        self._write("".join(message.model_dump_json() + "\n" for message in messages))

    def rewrite(self, kind: str, messages: Sequence[Message]) -> None:
        """Record that the history was rewritten (masked or compacted): one line holding all
        of it, so a kill mid-write leaves the history before it, whole."""
        self._write(HistoryRewrite(kind=kind, messages=list(messages)).model_dump_json() + "\n")

    def _write(self, text: str) -> None:
        with self.path.open("a", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())


class SessionStore:
    """The directory of saved sessions."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or default_sessions_dir()

    def create(self, workspace: Path, model: str) -> SessionFile:
        self.directory.mkdir(parents=True, exist_ok=True)
        now = datetime.now(timezone.utc)
        session_id = now.strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)
        info = SessionInfo(id=session_id, workspace=str(workspace), model=model,
                           created=now.isoformat(timespec="seconds"))
        path = self.directory / f"{session_id}.jsonl"
        path.write_text(info.model_dump_json() + "\n", encoding="utf-8")
        return SessionFile(path, info)

    def load(self, session_id: str) -> tuple[SessionFile, list[Message]]:
        """A saved session and its messages; a torn last line (a crash mid-write) is skipped."""
        path = self.directory / f"{session_id}.jsonl"
        if not path.is_file():
            raise SessionNotFound(f"no saved session {session_id!r} (see `/sessions` or `gemma-code sessions`)")
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        info = SessionInfo.model_validate_json(lines[0])
        messages: list[Message] = []
        for number, line in enumerate(lines[1:], start=2):
            try:
                messages = _read_line(line, messages)
            except ValidationError:
                if number != len(lines):
                    raise
                _drop_torn_line(path, len(line.encode("utf-8")))
                return SessionFile(path, info), messages
        saved = SessionFile(path, info)
        if not lines[-1].endswith("\n"):  # whole, but killed before its newline
            saved._write("\n")
        return saved, messages

    def list(self, workspace: Path | None = None) -> list[SessionInfo]:
        """Saved sessions, newest first, optionally only those of one workspace."""
        found = []
        for path in sorted(self.directory.glob("*.jsonl"), reverse=True):
            with path.open(encoding="utf-8") as stream:
                try:
                    info = SessionInfo.model_validate_json(stream.readline())
                except ValidationError:
                    continue
                if workspace is not None and info.workspace != str(workspace):
                    continue
                found.append(info.model_copy(update={"title": _title(stream)}))
        return found

    def latest(self, workspace: Path) -> str:
        sessions = self.list(workspace)
        if not sessions:
            raise SessionNotFound(f"no saved session for {workspace} to go on with "
                                  "(`gemma-code sessions --all` lists those of every workspace)")
        return sessions[0].id


def _read_line(line: str, messages: list[Message]) -> list[Message]:
    """The history after one saved line: a message appended, or a rewrite's whole history."""
    if line.startswith('{"kind"'):
        return list(HistoryRewrite.model_validate_json(line).messages)
    messages.append(_message.validate_json(line))
    return messages


def _drop_torn_line(path: Path, size: int) -> None:
    """Cut a last line a crash left half-written, so that lines appended later stay readable."""
    with path.open("r+b") as stream:
        stream.truncate(max(path.stat().st_size - size, 0))
        stream.flush()
        os.fsync(stream.fileno())


def _title(stream) -> str:
    for line in stream:
        try:
            message = _message.validate_json(line)
        except ValidationError:
            return ""
        if isinstance(message, UserMessage):
            text = " ".join(message.typed.split())
            return text[:60] + ("…" if len(text) > 60 else "")
    return ""
