"""`gemma-code run --attempts N` (issue 20): independent tries of one turn from the same files,
the project's tests choosing; a real repository, the real CLI, the scripted model."""

from __future__ import annotations

import json
from pathlib import Path

from gemma_code.agent.sessions import SessionStore

from .conftest import run_cli, write_script

FIXED = "def add(a, b):\n    return a + b\n"
BUGGY = "def add(a, b):\n    return a - b\n"


def call(name: str, **arguments) -> dict:
    return {"tool_calls": [{"name": name, "arguments": arguments}]}


READ = call("read_file", path="calc.py")
WRONG = [READ, call("edit_file", path="calc.py", old="return a - b", new="return a * b"),
         {"text": "Done: it multiplies."}]
RIGHT = [READ, call("edit_file", path="calc.py", old="return a - b", new="return a + b"),
         {"text": "Fixed: add adds."}]


def attempt(repo: Path, tmp_path: Path, env: dict, turns: list[dict], *flags: str):
    """The run's events (run_started and run_finished included) and its exit status."""
    script = write_script(tmp_path / "script.json", turns)
    proc = run_cli(["run", "--json", "--backend", "scripted", "--model", str(script),
                    "--approval", "auto", *flags, "fix add"], repo,
                   {**env, "GEMMA_CODE_VERIFY_ROUNDS": "0"})
    return [json.loads(line) for line in proc.stdout.splitlines()], proc


def notices(events: list[dict]) -> list[str]:
    return [e["text"] for e in events if e["type"] == "notice"]


def test_a_failed_try_is_undone_and_forgotten_and_a_passing_one_kept(repo: Path, tmp_path: Path, isolated_env):
    events, proc = attempt(repo, tmp_path, isolated_env, [*WRONG, *RIGHT], "--attempts", "3")
    assert proc.returncode == 0, proc.stderr
    assert (repo / "calc.py").read_text() == FIXED
    verdicts = [e["outcome"] for e in events if e["type"] == "verify_finished"]
    assert verdicts == ["failed", "passed"]
    said = notices(events)
    assert any("try 1 of 3 failed the tests: undone; try 2 of 3 starts again from the same "
               "files at temperature 0.7" in n for n in said), said
    assert any("try 2 of 3 passed the tests and is kept" in n for n in said), said
    finished = events[-1]
    assert finished["type"] == "run_finished" and finished["files_changed"] == ["calc.py"]
    assert finished["answer"] == "Fixed: add adds."
    # The saved conversation holds the prompt once and only the kept try.
    store = SessionStore(Path(isolated_env["GEMMA_CODE_SESSIONS_DIR"]))
    _, messages = store.load(store.latest(repo))
    texts = [m.text for m in messages if m.role in ("user", "assistant")]
    assert sum("fix add" in t for t in texts) == 1
    assert "Done: it multiplies." not in texts and "Fixed: add adds." in texts


def test_when_every_try_fails_the_last_is_kept_and_said(repo: Path, tmp_path: Path, isolated_env):
    other_wrong = [READ, call("edit_file", path="calc.py", old="return a - b", new="return b - a"),
                   {"text": "Done."}]
    events, proc = attempt(repo, tmp_path, isolated_env, [*WRONG, *other_wrong], "--attempts", "2")
    assert proc.returncode == 0, proc.stderr
    assert (repo / "calc.py").read_text() == "def add(a, b):\n    return b - a\n"
    assert any("no try of 2 passed the tests; the last failed the tests, and its changes are kept" in n
               for n in notices(events))


def test_a_try_that_changes_nothing_is_tried_again(repo: Path, tmp_path: Path, isolated_env):
    events, proc = attempt(repo, tmp_path, isolated_env, [READ, {"text": "It subtracts."}, *RIGHT],
                           "--attempts", "2")
    assert proc.returncode == 0, proc.stderr
    assert (repo / "calc.py").read_text() == FIXED
    assert any("try 1 of 2 changed no file: undone" in n for n in notices(events))


def test_without_a_test_command_there_is_one_try(repo: Path, tmp_path: Path, isolated_env):
    (repo / "test_calc.py").unlink()
    events, proc = attempt(repo, tmp_path, isolated_env, WRONG, "--attempts", "3")
    assert proc.returncode == 0, proc.stderr
    assert any(n.startswith("one try instead of 3: the tests choose between tries, and no test "
                            "command was found") for n in notices(events))
    assert "return a * b" in (repo / "calc.py").read_text()


def test_with_verify_off_there_is_one_try(repo: Path, tmp_path: Path, isolated_env):
    events, _ = attempt(repo, tmp_path, isolated_env, WRONG, "--attempts", "2", "--no-verify")
    assert any("one try instead of 2: the tests choose between tries, and verify is off" in n
               for n in notices(events))


def test_attempts_must_be_positive(repo: Path, tmp_path: Path, isolated_env):
    _, proc = attempt(repo, tmp_path, isolated_env, WRONG, "--attempts", "0")
    assert proc.returncode == 2 and "must be 1 or more, not 0" in proc.stderr
    assert (repo / "calc.py").read_text() == BUGGY
