"""Saved sessions: written as they happen, listed, resumed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gemma_code.agent.messages import AssistantMessage, SystemMessage, UserMessage
from gemma_code.agent.sessions import SessionNotFound, SessionStore

from .conftest import run_cli, write_script


def test_store_round_trip_and_listing(tmp_path: Path):
    store = SessionStore(tmp_path / "s")
    first = store.create(Path("/projects/a"), "qwen")
    first.append([SystemMessage(content="sys"), UserMessage.of("fix   the\nbug in parser.py")])
    first.append([AssistantMessage(text="done")])
    other = store.create(Path("/projects/b"), "gemma")
    other.append([UserMessage.of("hello")])

    saved, messages = store.load(first.info.id)
    assert [m.role for m in messages] == ["system", "user", "assistant"]
    assert messages[1].text == "fix   the\nbug in parser.py"
    listed = store.list(Path("/projects/a"))
    assert [i.id for i in listed] == [first.info.id]
    assert listed[0].title == "fix the bug in parser.py"
    assert {i.id for i in store.list()} == {first.info.id, other.info.id}
    assert store.latest(Path("/projects/b")) == other.info.id


def test_a_torn_last_line_is_skipped_but_other_damage_is_not(tmp_path: Path):
    store = SessionStore(tmp_path)
    saved = store.create(Path("/w"), "m")
    saved.append([UserMessage.of("one")])
    with saved.path.open("a") as out:
        out.write('{"role": "assistant", "te')  # the process died mid-write
    _, messages = store.load(saved.info.id)
    assert [m.role for m in messages] == ["user"]
    with pytest.raises(SessionNotFound):
        store.load("nope")
    with pytest.raises(SessionNotFound):
        store.latest(Path("/elsewhere"))


def test_headless_runs_are_saved_and_continue_goes_on(repo: Path, tmp_path: Path, isolated_env):
    one = write_script(tmp_path / "one.json", [{"text": "first answer"}])
    two = write_script(tmp_path / "two.json", [{"text": "second answer"}])
    base = ["run", "--backend", "scripted"]
    assert run_cli([*base, "--model", str(one), "first question"], repo, isolated_env).returncode == 0
    proc = run_cli([*base, "--model", str(two), "--continue", "second question"], repo, isolated_env)
    assert proc.returncode == 0, proc.stderr

    files = list(Path(isolated_env["GEMMA_CODE_SESSIONS_DIR"]).glob("*.jsonl"))
    assert len(files) == 1
    lines = [json.loads(line) for line in files[0].read_text().splitlines()]
    assert lines[0]["workspace"] == str(repo)
    roles = [line.get("role") for line in lines[1:]]
    assert roles == ["system", "user", "assistant", "user", "assistant"]
    assert lines[-1]["text"] == "second answer"

    listed = run_cli(["sessions"], repo, isolated_env)
    assert listed.stdout.startswith(files[0].stem) and "first question" in listed.stdout
    missing = run_cli([*base, "--model", str(two), "--resume", "nope", "x"], repo, isolated_env)
    assert missing.returncode == 1 and "no saved session 'nope'" in missing.stderr
