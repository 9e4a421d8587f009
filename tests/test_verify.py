"""Verification: the project's test command found, run after turns that changed files, and its
failures given to the model until the tests pass; real repositories, real test commands."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from gemma_code.agent.approval import DenyApprover
from gemma_code.agent.config import Settings
from gemma_code.agent.events import Notice, TurnDone, VerifyFinished, VerifyStarted
from gemma_code.agent.messages import UserMessage
from gemma_code.agent.session import Session
from gemma_code.agent.sessions import SessionStore
from gemma_code.agent.verify import TestCommand, failing_tests, find_test_command, trim
from gemma_code.backends.scripted import ScriptedBackend

from .conftest import git, run_cli, write_script

PYTEST = "python -m pytest -q -p no:cacheprovider"


def read(path: str) -> dict:
    return {"tool_calls": [{"name": "read_file", "arguments": {"path": path}}]}


def edit(path: str, old: str, new: str) -> dict:
    return {"tool_calls": [{"name": "edit_file", "arguments": {"path": path, "old": old, "new": new}}]}


# A wrong fix, the tests fail, the model hears why, fixes it again, the tests pass.
WRONG_THEN_RIGHT = [
    read("calc.py"),
    edit("calc.py", "return a - b", "return a * b"),
    {"text": "Done."},
    edit("calc.py", "return a * b", "return a + b"),
    {"text": "Fixed: add adds now."},
]


def events_of(proc) -> list[dict]:
    """The turn's events, without the run's first and last (run_started, run_finished)."""
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()][1:-1]


def run_json(repo: Path, tmp_path: Path, env: dict, turns: list[dict], *flags: str):
    script = write_script(tmp_path / "script.json", turns)
    return run_cli(["run", "--json", "--backend", "scripted", "--model", str(script),
                    "--approval", "auto", *flags, "fix the failing test"], repo, env)


# -- detection --------------------------------------------------------------------------------


@pytest.mark.parametrize("files, expected", [
    ({"AGENTS.md": "# Notes\n\nTest: `make check`\n"}, ("make check", "AGENTS.md")),
    ({"AGENTS.md": "- **Tests**: `pytest -x tests/`\n"}, ("pytest -x tests/", "AGENTS.md")),
    ({"AGENTS.md": "## Running the tests\n\n```sh\n$ tox -e py\n```\n"}, ("tox -e py", "AGENTS.md")),
    ({"AGENTS.md": "## Build\n\n```\nmake\n```\n"}, None),
    ({"pytest.ini": "[pytest]\n"}, (PYTEST, "pytest.ini")),
    ({"pyproject.toml": "[tool.pytest.ini_options]\naddopts = '-q'\n"}, (PYTEST, "pyproject.toml")),
    ({"pyproject.toml": "[project]\nname = 'x'\n"}, None),
    ({"setup.cfg": "[metadata]\n\n[tool:pytest]\ntestpaths = t\n"}, (PYTEST, "setup.cfg")),
    ({"tox.ini": "[tox]\n[pytest]\n"}, (PYTEST, "tox.ini")),
    ({"package.json": '{"scripts": {"test": "node --test"}}'}, ("npm test", "package.json")),
    ({"package.json": '{"scripts": {"test": "echo \\"Error: no test specified\\" && exit 1"}}'}, None),
    ({"package.json": "{not json"}, None),
    ({"Makefile": "all:\n\tcc x.c\n\ntest: all\n\t./run-tests\n"}, ("make test", "Makefile")),
    ({"Makefile": ".PHONY: lint test\nlint test: x\n"}, ("make test", "Makefile")),
    ({"Makefile": "TEST := 1\ntest-all:\n\ttrue\n"}, None),
    ({"tests/unit/test_a.py": ""}, (PYTEST, "tests/")),
    ({"tests/a.test.js": ""}, None),
    ({"calc_test.py": ""}, (PYTEST, "test_*.py files")),
    ({"README.md": "hi"}, None),
    # AGENTS.md before pytest's configuration, pytest before package.json and the Makefile
    ({"AGENTS.md": "Test: `npm run t`", "pytest.ini": "[pytest]\n"}, ("npm run t", "AGENTS.md")),
    ({"pytest.ini": "", "package.json": '{"scripts": {"test": "jest"}}', "Makefile": "test:\n"},
     (PYTEST, "pytest.ini")),
    ({"package.json": '{"scripts": {"test": "jest"}}', "Makefile": "test:\n"}, ("npm test", "package.json")),
])
def test_finds_the_test_command(tmp_path: Path, files: dict[str, str], expected):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert find_test_command(tmp_path) == (TestCommand(*expected) if expected else None)


def test_the_setting_wins(tmp_path: Path):
    (tmp_path / "AGENTS.md").write_text("Test: `make check`\n")
    assert find_test_command(tmp_path, "tox") == TestCommand("tox", "the test_command setting")


def test_failing_test_names_are_read_from_pytest_and_tap_output():
    pytest_out = ("F.E\n=== short test summary info ===\n"
                  "FAILED tests/test_a.py::test_one - assert 1 == 2\n"
                  "ERROR tests/test_b.py - ImportError: no module\n1 failed, 1 error\n")
    assert failing_tests(pytest_out) == ("tests/test_a.py::test_one", "tests/test_b.py")
    tap = "TAP version 13\n# Subtest: adds\nnot ok 1 - adds\n  ---\nok 2 - fine\n"
    assert failing_tests(tap) == ("adds",)
    spec = "✖ failing tests:\n\n✖ adds (1.2ms)\n  AssertionError\n"
    assert failing_tests(spec) == ("adds",)


def test_long_output_keeps_its_head_and_tail():
    text = "HEAD\n" + "x" * 10_000 + "\nTAIL summary"
    shown = trim(text, 1000)
    assert shown.startswith("HEAD") and shown.endswith("TAIL summary")
    assert "characters left out" in shown and len(shown) < 1100


# -- a turn, end to end -----------------------------------------------------------------------


def test_failing_tests_reach_the_model_and_the_turn_goes_on(repo: Path, tmp_path: Path, isolated_env):
    events = events_of(run_json(repo, tmp_path, isolated_env, WRONG_THEN_RIGHT))
    assert (repo / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"
    started = [e for e in events if e["type"] == "verify_started"]
    finished = [e for e in events if e["type"] == "verify_finished"]
    assert [e["command"] for e in started] == [PYTEST, PYTEST]
    assert [e["outcome"] for e in finished] == ["failed", "passed"]
    assert finished[0]["failures"] == ["test_calc.py::test_add"] and finished[0]["exit_code"] == 1
    assert "assert 6 == 5" in finished[0]["output"]
    assert events[-1] == {"type": "done", "reason": "answered", "steps": 5}
    # The model saw the failure as a user message: names first, then the output.
    store = SessionStore(Path(isolated_env["GEMMA_CODE_SESSIONS_DIR"]))
    _, messages = store.load(store.latest(repo))
    told = [m.text for m in messages if m.role == "user" and "tests ran" in m.text]
    assert len(told) == 1
    assert "Failing tests: test_calc.py::test_add" in told[0] and "assert 6 == 5" in told[0]
    assert told[0].index("Failing tests") < told[0].index("assert 6 == 5")


def test_a_turn_that_changes_nothing_runs_no_tests(repo: Path, tmp_path: Path, isolated_env):
    events = events_of(run_json(repo, tmp_path, isolated_env, [read("calc.py"), {"text": "It subtracts."}]))
    assert not [e for e in events if e["type"].startswith("verify")]
    assert events[-1]["steps"] == 2


def test_no_verify_runs_no_tests(repo: Path, tmp_path: Path, isolated_env):
    events = events_of(run_json(repo, tmp_path, isolated_env, WRONG_THEN_RIGHT[:3], "--no-verify"))
    assert not [e for e in events if e["type"].startswith("verify")]
    assert "return a * b" in (repo / "calc.py").read_text()


def test_verify_rounds_bound_the_rounds(repo: Path, tmp_path: Path, isolated_env):
    # The model never fixes it: one round of feedback, then the turn ends (the script has no more).
    turns = [*WRONG_THEN_RIGHT[:3], {"text": "I think it is right."}]
    env = {**isolated_env, "GEMMA_CODE_VERIFY_ROUNDS": "1"}
    events = events_of(run_json(repo, tmp_path, env, turns))
    assert [e["outcome"] for e in events if e["type"] == "verify_finished"] == ["failed", "failed"]
    assert any(e["type"] == "notice" and "still fail after 1 round" in e["text"] for e in events)
    assert events[-1] == {"type": "done", "reason": "answered", "steps": 4}


def test_a_turn_the_repeat_guard_ended_is_verified_and_goes_on(repo: Path, tmp_path: Path, isolated_env):
    # A wrong fix, then a loop on read_file that the repeat guard ends: the failing tests are
    # news to the model, which fixes the code in the round they start.
    turns = [read("calc.py"), edit("calc.py", "return a - b", "return a * b"),
             *[read("calc.py")] * 4, *WRONG_THEN_RIGHT[3:]]
    env = {**isolated_env, "GEMMA_CODE_RETRY_TEMPERATURE": "0"}
    events = events_of(run_json(repo, tmp_path, env, turns))
    ends = [e["reason"] for e in events if e["type"] == "done"]
    assert [e["outcome"] for e in events if e["type"] == "verify_finished"] == ["failed", "passed"]
    assert (repo / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"
    assert ends == ["answered"] and events[-1]["steps"] == 8


def test_a_hung_test_command_is_killed_and_counts_as_failed(repo: Path, tmp_path: Path, isolated_env):
    env = {**isolated_env, "GEMMA_CODE_TEST_COMMAND": "sleep 100", "GEMMA_CODE_VERIFY_TIMEOUT": "1",
           "GEMMA_CODE_VERIFY_ROUNDS": "0"}
    started = time.monotonic()
    events = events_of(run_json(repo, tmp_path, env, WRONG_THEN_RIGHT[:3]))
    assert time.monotonic() - started < 60
    finished = [e for e in events if e["type"] == "verify_finished"]
    assert len(finished) == 1 and finished[0]["outcome"] == "timed_out"
    assert "timed out after 1s" in finished[0]["summary"]
    assert events[-1]["reason"] == "answered"


def test_headless_without_command_approval_skips_the_tests_with_a_note(repo: Path, tmp_path: Path, isolated_env):
    # auto-edit: edits run, commands need a yes that a headless run cannot give
    script = write_script(tmp_path / "script.json", WRONG_THEN_RIGHT[:3])
    proc = run_cli(["run", "--backend", "scripted", "--model", str(script), "--approval", "auto-edit",
                    "fix it"], repo, isolated_env)
    assert proc.returncode == 0, proc.stderr
    assert ("gemma-code: tests: not run: it needs approval (run_shell wants to run a shell command "
            "(approval mode: auto-edit)) and this run is headless") in proc.stderr
    assert "denied" not in proc.stdout  # skipped, not asked and denied
    assert "[3 steps" in proc.stderr


def test_text_mode_prints_a_line_for_each_run(repo: Path, tmp_path: Path, isolated_env):
    script = write_script(tmp_path / "script.json", WRONG_THEN_RIGHT)
    proc = run_cli(["run", "--backend", "scripted", "--model", str(script), "--approval", "auto",
                    "fix it"], repo, isolated_env)
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("gemma-code: tests:")]
    assert lines == [
        f"gemma-code: tests: running {PYTEST} (from test_*.py files)",
        "gemma-code: tests: the tests fail (1 failing): test_calc.py::test_add",
        f"gemma-code: tests: running {PYTEST} (from test_*.py files)",
        "gemma-code: tests: the tests pass",
    ]


# -- other test commands: npm, make ------------------------------------------------------------


def plain_repo(root: Path, files: dict[str, str]) -> Path:
    root.mkdir()
    for name, text in files.items():
        (root / name).write_text(text)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", ".")
    git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    return root


NODE_TEST = ("const test = require('node:test'); const assert = require('node:assert');\n"
             "const { add } = require('./calc.js');\n"
             "test('adds', () => { assert.strictEqual(add(2, 3), 5); });\n")


def test_npm_test_failures_reach_the_model(tmp_path: Path, isolated_env):
    root = plain_repo(tmp_path / "js", {
        "package.json": json.dumps({"name": "calc", "scripts": {"test": "node --test"}}),
        "calc.js": "exports.add = (a, b) => a - b;\n",
        "calc.test.js": NODE_TEST,
    })
    env = {**isolated_env, "npm_config_cache": str(tmp_path / "js" / ".npm-cache")}
    turns = [read("calc.js"), edit("calc.js", "a - b", "a * b"), {"text": "Done."},
             edit("calc.js", "a * b", "a + b"), {"text": "Fixed."}]
    events = events_of(run_json(root, tmp_path, env, turns))
    finished = [e for e in events if e["type"] == "verify_finished"]
    assert [e["command"] for e in finished] == ["npm test", "npm test"]
    assert [e["outcome"] for e in finished] == ["failed", "passed"], finished
    assert finished[0]["failures"] == ["adds"]


def test_make_test_runs_the_makefile_target(tmp_path: Path, isolated_env):
    root = plain_repo(tmp_path / "mk", {
        "Makefile": "test:\n\tpython3 -c 'import calc; assert calc.add(2, 3) == 5, \"add is wrong\"'\n",
        "calc.py": "def add(a, b):\n    return a - b\n",
    })
    events = events_of(run_json(root, tmp_path, isolated_env, WRONG_THEN_RIGHT))
    finished = [e for e in events if e["type"] == "verify_finished"]
    assert [(e["command"], e["outcome"]) for e in finished] == [("make test", "failed"), ("make test", "passed")]
    assert "add is wrong" in finished[0]["output"]


# -- in one session ----------------------------------------------------------------------------


def test_no_test_command_is_said_once(tmp_path: Path):
    root = plain_repo(tmp_path / "notes", {"notes.txt": "one\n"})
    turns = [read("notes.txt"), edit("notes.txt", "one", "two"), {"text": "Done."},
             edit("notes.txt", "two", "three"), {"text": "Done again."}]
    backend = ScriptedBackend.from_turns(turns)
    session = Session(Settings(approval="auto"), backend, root, DenyApprover(), cancel=threading.Event())
    first = list(session.run(UserMessage.of("change it")))
    second = list(session.run(UserMessage.of("again")))
    said = [e.text for e in [*first, *second] if isinstance(e, Notice) and "no test command" in e.text]
    assert len(said) == 1 and "AGENTS.md" in said[0]
    assert not [e for e in [*first, *second] if isinstance(e, (VerifyStarted, VerifyFinished))]
    assert isinstance(second[-1], TurnDone) and second[-1].reason == "answered"


def test_the_model_is_shown_the_failure_before_its_next_step(repo: Path):
    backend = ScriptedBackend.from_turns(WRONG_THEN_RIGHT)
    settings = Settings(approval="auto", test_command="python -m pytest -q test_calc.py")
    session = Session(settings, backend, repo, DenyApprover())
    events = list(session.run(UserMessage.of("fix it")))
    assert [e.outcome for e in events if isinstance(e, VerifyFinished)] == ["failed", "passed"]
    shown = backend.seen[3][-1]  # what the model had last when it made its second edit
    assert shown.role == "user" and "Failing tests: test_calc.py::test_add" in shown.text
