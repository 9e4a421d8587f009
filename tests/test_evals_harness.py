"""The eval harness, driven end to end with the scripted backend (real repositories, real
`gemma-code run` processes, real hidden checks)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from evals.harness.agents import GemmaCode
from evals.harness.report import failure_cause, failures, report, tool_errors
from evals.harness.run import RETRY_NOTE, run_repo_task
from evals.harness.suites import SuiteError, load_suite
from evals.harness.toolsuite import run_tool_suite
from gemma_code.agent.config import Settings
from gemma_code.backends.threads import default_threads
from tests.conftest import text_png

ROOT = Path(__file__).resolve().parent.parent
HIDDEN_TEST = "def test_add():\n    from calc import add\n    assert add(2, 3) == 5\n"


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


@pytest.fixture
def suites(tmp_path: Path) -> Path:
    """A suite with one small bug-fix task and a tool-choice suite, in a folder of their own."""
    root = tmp_path / "suites"
    _write(root / "demo" / "fix-add", {
        "task.toml": 'prompt = "add(2, 3) gives -1"\ndifficulty = "easy"\n'
                     'check = "python -m pytest -q -p no:cacheprovider test_hidden_calc.py"\n',
        "repo/calc.py": "def add(a, b):\n    return a - b\n",
        "hidden/test_hidden_calc.py": HIDDEN_TEST,
        "solution/calc.py": "def add(a, b):\n    return a + b\n",
    })
    _write(root / "picks", {
        "repo/src/app.py": "PORT = 8080\n",
        "tasks.toml": """
[[task]]
id = "read-app"
prompt = "What port does src/app.py use?"
[[task.expect]]
tool = "read_file"
args = { path = "src/app.py" }

[[task]]
id = "find-port"
prompt = "Where is PORT defined?"
[[task.expect]]
tool = "grep"
match = { pattern = "PORT" }
[[task.expect]]
tool = "run_shell"
match = { command = "grep" }

[[task]]
id = "run-tests"
prompt = "Run the tests"
[[task.expect]]
tool = "run_shell"
match = { command = "pytest" }

[[task]]
id = "list-src"
prompt = "What is in src?"
[[task.expect]]
tool = "list_files"
args = { path = "src" }
""",
    })
    return root


def _script(path: Path, turns: list[dict], **extra) -> str:
    path.write_text(json.dumps({"turns": turns, **extra}))
    return str(path)


def _agent(script: str) -> GemmaCode:
    return GemmaCode(model=script, backend="scripted", max_steps=5)


def _events(log: str) -> list[dict]:
    return [json.loads(line) for line in Path(log).read_text().splitlines() if line.startswith("{")]


def test_a_task_solved_on_the_first_try(suites, tmp_path):
    task, = load_suite("demo", root=suites)
    script = _script(tmp_path / "fix.json", [
        {"tool_calls": [{"name": "edit_file",
                         "arguments": {"path": "calc.py", "old": "a - b", "new": "a + b"}}]},
        {"text": "Fixed: add now adds."},
    ])
    result = run_repo_task(task, _agent(script), "scripted", tries=2, timeout=120, logs=tmp_path / "logs")
    assert result.passed and result.first_try
    assert len(result.tries) == 1
    attempt = result.tries[0]
    assert attempt.exit_code == 0 and not attempt.timed_out
    assert attempt.metrics.steps == 2 and attempt.metrics.tool_calls == 1
    assert attempt.metrics.tool_errors == attempt.metrics.malformed_calls == 0
    assert attempt.metrics.end_reason == "answered"
    assert "1 passed" in attempt.check_output
    assert attempt.changed == ["calc.py"]


def test_a_failed_task_gets_a_second_try_that_is_told_only_that_it_failed(suites, tmp_path,
                                                                           monkeypatch):
    # The blind edit and the repeat below must reach the counts, not the guards against them.
    monkeypatch.setenv("GEMMA_CODE_EDIT_GUARDS", "false")
    monkeypatch.setenv("GEMMA_CODE_RETRY_TEMPERATURE", "0")
    monkeypatch.setenv("GEMMA_CODE_CONTEXT_FILES_TOKENS", "0")  # no file attached: a blind edit
    task, = load_suite("demo", root=suites)
    script = _script(tmp_path / "lazy.json", [
        {"tool_calls": [{"name": "nope", "arguments": {}}]},  # an unknown tool: malformed
        {"tool_calls": [{"name": "read_file", "arguments": {"path": "missing.py"}}]},  # a tool error
        {"tool_calls": [{"name": "read_file", "arguments": {"path": "missing.py"}}]},  # ... repeated
        {"tool_calls": [{"name": "edit_file", "arguments": {  # an edit of a file not read yet
            "path": "calc.py", "old": "a * b", "new": "a + b"}}]},
        {"tool_calls": [{"name": "read_file", "arguments": {"path": "./calc.py"}}]},
        {"tool_calls": [{"name": "edit_file", "arguments": {  # a wrong fix
            "path": "calc.py", "old": "a - b", "new": "b - a"}}]},
        {"text": "Looks fine to me."},
    ])
    agent = GemmaCode(model=script, backend="scripted", max_steps=8)
    result = run_repo_task(task, agent, "scripted", tries=2, timeout=120, logs=tmp_path / "logs")
    assert not result.passed and not result.first_try
    assert len(result.tries) == 2
    for attempt in result.tries:
        assert not attempt.passed and "assert 1 == 5" in attempt.check_output
        m = attempt.metrics
        assert (m.malformed_calls, m.repeated_calls, m.tool_calls) == (1, 1, 6)
        assert (m.edits, m.edits_unread) == (2, 1)
        assert attempt.changed == ["calc.py"]
    first, second = (attempt.metrics for attempt in result.tries)
    assert first.error_kinds == {"path not found": 2, "edit: old not found": 1}
    # the second try's wrong fix was already there
    assert second.error_kinds == {"path not found": 2, "edit: old not found": 1, "edit: already made": 1}
    assert failure_cause(result) == "finished, check failed"
    assert ("| 12 | 7 | path not found 4, edit: old not found 2, edit: already made 1 | 2 of 4 |"
            in tool_errors([result]))
    assert "| 2 malformed, 7 tool errors, 2 repeats of 12 calls |" in failures([result])
    second = Path(result.tries[1].log).with_suffix(".out")
    sessions = [e for e in _events(str(second)) if e["type"] == "done"]
    assert sessions, "the second try ran to its end"
    # The retry prompt carries the note and nothing from the hidden check.
    assert RETRY_NOTE in " ".join(_command_line(task, script))


def _command_line(task, script) -> list[str]:
    from evals.harness.run import retry_prompt

    return _agent(script).command(retry_prompt(task), Path("work"), None)


def test_an_agent_that_runs_past_its_time_is_stopped(suites, tmp_path):
    task, = load_suite("demo", root=suites)
    # 600 characters, one every 0.05 s: half a minute of "generation".
    script = _script(tmp_path / "slow.json", [{"text": "x" * 600}], chunk_size=1, chunk_delay=0.05)
    result = run_repo_task(task, _agent(script), "scripted", tries=1, timeout=4, logs=tmp_path / "logs")
    attempt, = result.tries
    assert attempt.timed_out and attempt.exit_code is None
    assert 4 <= attempt.seconds < 15
    assert not result.passed
    assert failure_cause(result) == "timed out"


def _processes_naming(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and text.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            pass  # it ended while we looked
    return found


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds the agent's process through /proc (Linux)")
def test_a_terminated_run_stops_its_agent_too(suites, tmp_path):
    script = _script(tmp_path / "slow.json", [{"text": "x" * 600}], chunk_size=1, chunk_delay=0.05)
    run = subprocess.Popen(
        [sys.executable, "-m", "evals", "run", "--suite", "demo", "--suites-dir", str(suites),
         "--backend", "scripted", "--model", script, "--out", str(tmp_path / "r.json")],
        cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not [pid for pid in _processes_naming(script) if pid != run.pid] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [pid for pid in _processes_naming(script) if pid != run.pid], "the agent never started"
    run.terminate()
    _, stderr = run.communicate(timeout=30)
    left = _processes_naming(script)
    for pid in left:  # so that a failure here leaves nothing running
        os.kill(pid, signal.SIGKILL)
    assert run.returncode == 130 and "evals: interrupted" in stderr, stderr
    assert left == []  # the agent (in its own session) went with it


def test_the_hidden_check_never_reaches_the_agent(suites, tmp_path):
    task, = load_suite("demo", root=suites)
    script = _script(tmp_path / "snoop.json", [
        {"tool_calls": [{"name": "list_files", "arguments": {"path": "."}}]},
        {"tool_calls": [{"name": "read_file", "arguments": {"path": "test_hidden_calc.py"}}]},
        {"tool_calls": [{"name": "grep", "arguments": {"pattern": "assert add"}}]},
        {"text": "nothing to see"},
    ])
    result = run_repo_task(task, _agent(script), "scripted", tries=2, timeout=120, logs=tmp_path / "logs")
    assert len(result.tries) == 2  # the second try runs after the first check has run
    for attempt in result.tries:
        # the check did run with the hidden test in place...
        assert "assert -1 == 5" in attempt.check_output
        # ...and the agent saw none of it, in either try
        seen = [e for e in _events(attempt.log) if e["type"] == "tool_result"]
        assert len(seen) == 3
        listing, read, grep = ("".join(p.get("text", "") for p in e["content"]) for e in seen)
        assert "calc.py" in listing and "test_hidden" not in listing
        assert seen[1]["is_error"] and "assert add" not in read
        assert grep.startswith("no matches")
        assert attempt.changed == []
    assert failure_cause(result) == "finished without changing a file"
    assert not any(Path(tmp_path).glob("**/work/test_hidden_calc.py"))


def test_the_task_image_goes_with_the_prompt_and_blind_agents_skip_it(suites, tmp_path):
    folder = suites / "demo" / "fix-add"
    text_png(folder / "shot.png", "AssertionError: add(2, 3) == -1")
    (folder / "task.toml").write_text((folder / "task.toml").read_text() + 'image = "shot.png"\n')
    task, = load_suite("demo", root=suites)
    script = _script(tmp_path / "answer.json", [{"text": "I see it."}])
    result = run_repo_task(task, _agent(script), "scripted", tries=1, timeout=120, logs=tmp_path / "logs")
    attempt, = result.tries
    # the scripted model has no vision, so gemma-code read the image with OCR and said so
    assert "shot.png" in Path(attempt.log).with_suffix(".err").read_text()
    blind = _agent(script)
    blind.sees_images = False
    result = run_repo_task(task, blind, "scripted", tries=1, timeout=10, logs=tmp_path / "logs2")
    assert result.skipped == "gemma-code cannot be given an image" and not result.tries


def test_the_tool_suite_grades_the_first_call(suites, tmp_path):
    tasks = load_suite("picks", root=suites)
    by_id = {t.id: t for t in tasks}
    assert list(by_id) == ["read-app", "find-port", "run-tests", "list-src"]  # file order
    script = _script(tmp_path / "picks.json", [
        {"tool_calls": [{"name": "read_file", "arguments": {"path": "./src/app.py"}}]},
        {"tool_calls": [{"name": "run_shell", "arguments": {"command": "grep -rn PORT ."}}]},
        {"tool_calls": [{"name": "read_file", "arguments": {"path": "tests"}}]},
        {"tool_calls": [{"name": "list_files", "arguments": {"path": 3}}]},
    ])
    results = run_tool_suite(tasks, Settings(model=script, backend="scripted"))
    got = {r.task: r for r in results}
    assert got["read-app"].passed  # "./src/app.py" is "src/app.py"
    assert got["find-port"].passed  # the second acceptable call
    assert not got["run-tests"].passed and not got["run-tests"].right_tool
    assert got["run-tests"].problem == "called read_file, expected run_shell"
    assert got["list-src"].right_tool and not got["list-src"].valid_args
    assert [failure_cause(got[t]) for t in ("run-tests", "list-src")] == [
        "wrong tool", "arguments fail the schema"]
    assert got["find-port"].expected == ["grep", "run_shell"]
    table = report(results)
    assert "| picks | gemma-code |" in table and "| 4 | 50% |" in table
    assert "| gemma-code | scripted | run_shell | 1 | 0 | wrong tool 1 |" in table.replace(script, "scripted")


def test_bad_suites_are_refused_with_the_reason(suites):
    with pytest.raises(SuiteError, match="no suite 'nope'"):
        load_suite("nope", root=suites)
    with pytest.raises(SuiteError, match="has no task missing"):
        load_suite("demo", ["missing"], root=suites)
    (suites / "demo" / "fix-add" / "task.toml").write_text('prompt = "x"\ndifficulty = "trivial"\ncheck = "true"\n')
    with pytest.raises(SuiteError, match="difficulty"):
        load_suite("demo", root=suites)


def test_run_and_report_from_the_command_line(suites, tmp_path):
    script = _script(tmp_path / "fix.json", [
        {"tool_calls": [{"name": "edit_file",
                         "arguments": {"path": "calc.py", "old": "a - b", "new": "a + b"}}]},
        {"text": "Fixed."},
    ])
    out = tmp_path / "results.json"
    run = subprocess.run(
        [sys.executable, "-m", "evals", "run", "--suite", "demo", "--suites-dir", str(suites),
         "--backend", "scripted", "--model", script, "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
    )
    assert run.returncode == 0, run.stderr
    assert "[1/1] demo/fix-add (easy): try 1 pass" in run.stderr
    saved = json.loads(out.read_text())
    assert saved["meta"]["suite"] == "demo" and saved["results"][0]["passed"] is True
    shown = subprocess.run([sys.executable, "-m", "evals", "report", str(out)], cwd=ROOT,
                           capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert "| demo | gemma-code |" in shown.stdout and "| 1 | 100% | 100% |" in shown.stdout
    assert "| demo | fix-add | easy | pass " in shown.stdout
    # --resume keeps what the file has and runs nothing more
    again = subprocess.run(
        [sys.executable, "-m", "evals", "run", "--suite", "demo", "--suites-dir", str(suites),
         "--backend", "scripted", "--model", script, "--out", str(out), "--resume"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
    )
    assert again.returncode == 0, again.stderr
    assert "resuming: 1 tasks already in" in again.stderr and "working" not in again.stderr
    assert json.loads(out.read_text())["results"] == saved["results"]
    assert saved["meta"]["agent_version"].startswith("gemma-code ")  # the commit that ran
    assert saved["meta"]["cpu"] and "REPACK" in saved["meta"]["llama_cpp"]  # where, and the build
    assert saved["meta"]["threads"] == str(default_threads())  # every agent's llama.cpp threads
    # a resume that names other tasks runs them and keeps the ones the file has
    shutil.copytree(suites / "demo" / "fix-add", suites / "demo" / "fix-add-again")
    more = subprocess.run(
        [sys.executable, "-m", "evals", "run", "--suite", "demo", "--suites-dir", str(suites),
         "--backend", "scripted", "--model", script, "--out", str(out), "--resume",
         "--tasks", "fix-add-again"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
    )
    assert more.returncode == 0, more.stderr
    kept = json.loads(out.read_text())["results"]
    assert [r["task"] for r in kept] == ["fix-add", "fix-add-again"] and kept[0] == saved["results"][0]


def test_gemma_code_runs_on_the_threads_the_peers_server_gets(tmp_path):
    assert GemmaCode(model="m", threads=3).environment(tmp_path)["GEMMA_CODE_N_THREADS"] == "3"


def _post(url: str, timeout: float, **body) -> dict:
    import urllib.request

    from evals.harness.peers import SERVED_NAME

    sent = urllib.request.Request(url, data=json.dumps({"model": SERVED_NAME, **body}).encode(),
                                  headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(sent, timeout=timeout) as answer:
        return json.loads(answer.read())


@pytest.mark.real_model
def test_the_peers_model_server_serves_on_loopback_restarts_and_stops(tmp_path):
    import socket
    import urllib.request

    from evals.harness.peers import SERVED_NAME, model_server
    from gemma_code.backends.models.registry import resolve_model

    model = resolve_model("gemma-3-270m").path
    with model_server(model, context_size=1024, chat_format=None, log_file=tmp_path / "server.log",
                      n_threads=2) as server:
        assert server.url.startswith("http://127.0.0.1:")
        assert server.command[-4:] == ["--n_threads", "2", "--n_threads_batch", "2"]
        with urllib.request.urlopen(server.url + "/models", timeout=30) as answer:
            assert SERVED_NAME in answer.read().decode()
        reply = _post(server.url + "/chat/completions", 120, max_tokens=4,
                      messages=[{"role": "user", "content": "Say hi"}])
        assert reply["choices"] and reply["usage"]["prompt_tokens"] > 3

        # A client that gives up on a long generation (end of text banned, as a runaway model
        # that never stops) leaves the server busy with it; a restart frees it at the same URL.
        with pytest.raises(OSError):
            _post(server.url + "/completions", 2, prompt="1, 2, 3, 4,", max_tokens=900,
                  logit_bias={"1": -100, "106": -100})
        busy = server.process.pid
        server.restart()
        with pytest.raises(ProcessLookupError):
            os.kill(busy, 0)
        assert _post(server.url + "/completions", 30, prompt="1, 2,", max_tokens=2)["choices"]
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", server.port)) != 0, "the server is still listening"


def test_peer_figures_are_read_from_their_own_records(tmp_path):
    from evals.harness.peers import _aider_metrics, _mini_metrics

    aider = _aider_metrics("Repo-map: using 1024 tokens\nTokens: 886 sent, 23 received.\n"
                           "thermo/convert.py\nTokens: 1.2k sent, 318 received.\n")
    assert (aider.steps, aider.prompt_tokens, aider.completion_tokens) == (2, 2086, 341)
    reply = {"usage": {"prompt_tokens": 900, "completion_tokens": 40}}
    (tmp_path / "t.json").write_text(json.dumps({
        "info": {"exit_status": "Submitted"},
        "messages": [{"role": "system", "content": "..."},
                     {"role": "assistant", "content": "ls", "extra": {
                         "response": reply, "actions": [{"command": "ls"}]}},
                     {"role": "user", "content": "Format error", "extra": {
                         "interrupt_type": "FormatError", "response": reply}},
                     {"role": "assistant", "content": "ls", "extra": {
                         "response": reply, "actions": [{"command": "ls"}]}}],
    }))
    mini = _mini_metrics(tmp_path / "t.json")
    assert (mini.steps, mini.malformed_calls, mini.repeated_calls, mini.prompt_tokens) == (3, 1, 1, 2700)
    assert mini.end_reason == "Submitted"


def test_tool_errors_are_counted_by_the_kind_the_tools_give_them(tmp_path):
    """Every kind of tool error, made by the real tools in a real loop, lands in its column."""
    from evals.harness.agents import metrics_from_events
    from gemma_code.agent.approval import DenyApprover
    from gemma_code.agent.headless import print_json
    from gemma_code.agent.loop import Agent, run_turn
    from gemma_code.agent.messages import UserMessage
    from gemma_code.agent.protocols import GenerationOptions, ToolContext
    from gemma_code.agent.registry import ToolRegistry
    from gemma_code.agent.workspace import LocalWorkspace
    from gemma_code.backends.scripted import ScriptedBackend
    from gemma_code.tools import default_tools

    (tmp_path / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    calls = [
        ("edit_file", {"path": "calc.py", "old": "a + b", "new": "a + b"}),
        ("edit_file", {"path": "calc.py", "old": "a * b", "new": "a / b"}),
        ("edit_file", {"path": "calc.py", "old": "a - b", "new": "a + b"}),
        ("read_file", {"path": "nothere.py"}),
        ("list_files", {"path": "nowhere"}),
        ("write_file", {"path": "../elsewhere.py", "content": "x"}),
        ("run_shell", {"command": "sleep 5", "timeout": 1}),
        ("grep", {"pattern": ""}),
        ("nope", {}),  # malformed: no such tool
        ("read_file", {"path": 3}),  # malformed: arguments that do not fit
        *[("list_files", {})] * 4,  # the fourth is refused
    ]
    agent = Agent(
        backend=ScriptedBackend.from_turns(
            [{"tool_calls": [{"name": name, "arguments": arguments}]} for name, arguments in calls]),
        tools=ToolRegistry(default_tools(), "auto", DenyApprover()),
        ctx=ToolContext(LocalWorkspace(tmp_path)),
        options=GenerationOptions(),
        max_steps=len(calls),
    )
    events = tmp_path / "events.jsonl"
    with events.open("w") as out:
        print_json(run_turn(agent, UserMessage.of("go")), out)

    m = metrics_from_events(events)
    assert (m.tool_calls, m.malformed_calls, m.tool_errors) == (14, 2, 9)
    assert m.error_kinds == {
        "edit: old equals new": 1, "edit: old not found": 1, "edit: already made": 1,
        "path not found": 2, "path outside the workspace": 1, "command timed out": 1,
        "other": 1, "repeated call refused": 1,
    }
    assert m.end_reason == "repeated"


def test_attached_and_shown_files_count_as_read_for_the_blind_edit_figure(tmp_path):
    from evals.harness.agents import metrics_from_events

    def call(n: int, name: str, path: str) -> dict:
        return {"type": "tool_call", "call": {"id": f"c{n}", "name": name,
                                              "arguments": {"path": path, "old": "a", "new": "b"}}}

    def result(n: int, name: str, kind: str | None = None) -> dict:
        return {"type": "tool_result", "call_id": f"c{n}", "name": name,
                "is_error": kind is not None, "error_kind": kind, "content": []}

    events = [
        {"type": "context", "files": [{"path": "calc.py", "lines": "whole", "reason": "named"}]},
        call(1, "edit_file", "calc.py"), result(1, "edit_file"),  # attached: read
        call(2, "edit_file", "util.py"), result(2, "edit_file", "unread_file"),  # refused, shown
        call(3, "edit_file", "util.py"), result(3, "edit_file"),  # now read
        call(4, "edit_file", "other.py"), result(4, "edit_file"),  # blind (guards off)
    ]
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    m = metrics_from_events(path)
    assert (m.edits, m.edits_unread) == (4, 1)
    assert m.error_kinds == {"edit: file not read (shown)": 1}
