"""`gemma-code run` and its neighbours as a script or a person at a shell meets them: real
subprocesses in a real repository, the scripted model."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from gemma_code.agent.errors import error_sentence
from gemma_code.agent.messages import UserMessage
from gemma_code.agent.sessions import SessionStore

from .conftest import run_cli, write_script
from .test_loop import FIX_TURNS

CLI = [sys.executable, "-m", "gemma_code.agent.cli"]


def scripted(script: Path, *args: str) -> list[str]:
    return ["run", "--backend", "scripted", "--model", str(script), *args]


def sessions_of(env: dict[str, str], repo: Path) -> list:
    return SessionStore(Path(env["GEMMA_CODE_SESSIONS_DIR"])).list(repo.resolve())


def test_a_failing_command_is_a_cross_said_once_with_the_end_of_its_output(repo, tmp_path, isolated_env):
    script = write_script(tmp_path / "s.json", [
        {"tool_calls": [{"name": "run_shell", "arguments": {"command": "seq 1 30; false"}}]},
        {"text": "It failed."},
    ])
    proc = run_cli(scripted(script, "--approval", "auto", "--sandbox", "off", "go"), repo, isolated_env)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    mark = lines.index("→ run_shell(command=seq 1 30; false)") + 1
    assert lines[mark].startswith("  ✗ exit 1 in ") and "✓" not in proc.stdout
    assert proc.stdout.count("exit 1") == 1 and "exit code" not in proc.stdout
    assert lines[mark + 1:mark + 7] == [f"    {n}" for n in range(25, 31)]  # the end, not the start
    assert lines[mark + 7] == "It failed."


def test_a_command_that_passes_keeps_its_tick_and_no_output(repo, tmp_path, isolated_env):
    script = write_script(tmp_path / "s.json", [
        {"tool_calls": [{"name": "run_shell", "arguments": {"command": "echo fine"}}]},
        {"text": "Done."},
    ])
    proc = run_cli(scripted(script, "--approval", "auto", "--sandbox", "off", "go"), repo, isolated_env)
    assert proc.returncode == 0, proc.stderr
    assert "  ✓ exit 0 in " in proc.stdout and "    fine" not in proc.stdout


def test_ask_mode_in_json_lists_what_it_blocked_and_exits_3(repo, tmp_path, isolated_env):
    script = write_script(tmp_path / "fix.json", FIX_TURNS)
    proc = run_cli(scripted(script, "--json", "fix it"), repo, isolated_env)
    assert proc.returncode == 3, proc.stderr
    last = json.loads(proc.stdout.splitlines()[-1])
    assert last["type"] == "run_finished" and last["exit_code"] == 3
    assert [(b["tool"], b["target"]) for b in last["blocked"]] == [
        ("edit_file", "calc.py"), ("run_shell", "`python -m pytest -q`")]
    assert last["blocked"][0]["allowed_by"] == "--approval auto-edit"


def test_each_blocked_call_names_what_would_allow_it(repo, tmp_path, isolated_env):
    script = write_script(tmp_path / "s.json", [
        {"tool_calls": [{"name": "run_shell", "arguments": {"command": "seq 1 3; false"}}]},
        {"tool_calls": [{"name": "run_shell", "arguments": {"command": "rm -rf ~"}}]},
        {"text": "Neither ran."},
    ])
    proc = run_cli(scripted(script, "--json", "go"), repo, isolated_env)
    assert proc.returncode == 3, proc.stderr
    blocked = json.loads(proc.stdout.splitlines()[-1])["blocked"]
    assert blocked[0]["allowed_by"].startswith("--approval auto")  # a chained command: no "always"
    assert blocked[1]["allowed_by"] is None and "in every mode" in blocked[1]["reason"]
    text = run_cli(scripted(script, "go"), repo, isolated_env)
    assert "  run_shell `rm -rf ~`: this command " in text.stderr
    assert text.stderr.rstrip().splitlines()[-2].endswith("do it yourself if it should happen")


def test_run_help_documents_the_exit_statuses(repo, isolated_env):
    shown = run_cli(["run", "--help"], repo, isolated_env).stdout
    assert "exit status:" in shown
    for code in ("0", "1", "2", "3", "130"):
        assert re.search(rf"^  {code}  ", shown, re.MULTILINE), code
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    assert "exits 3" in readme


@pytest.mark.parametrize("prompt", ["", "   ", "\n\t"])
def test_an_empty_prompt_is_refused_before_anything_starts(repo, tmp_path, isolated_env, prompt):
    script = write_script(tmp_path / "s.json", [{"text": "hi"}])
    proc = run_cli(scripted(script, prompt), repo, isolated_env)
    assert proc.returncode == 2
    assert proc.stderr.startswith("gemma-code: error: the prompt is empty: say what to do")
    assert len(proc.stderr.splitlines()) == 1 and proc.stdout == ""
    assert sessions_of(isolated_env, repo) == []


def test_a_dash_reads_the_prompt_from_stdin(repo, tmp_path, isolated_env):
    script = write_script(tmp_path / "s.json", [{"text": "It subtracts."}])
    proc = subprocess.run([*CLI, *scripted(script, "-")], cwd=repo, env=isolated_env, text=True,
                          input="what does calc.py do?\nbe brief\n", capture_output=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "It subtracts."
    store = SessionStore(Path(isolated_env["GEMMA_CODE_SESSIONS_DIR"]))
    _, history = store.load(sessions_of(isolated_env, repo)[0].id)
    sent = next(m for m in history if isinstance(m, UserMessage))
    assert sent.typed.startswith("what does calc.py do?\nbe brief")
    empty = subprocess.run([*CLI, *scripted(script, "-")], cwd=repo, env=isolated_env, text=True,
                           input="", capture_output=True, timeout=600)
    assert empty.returncode == 2 and "stdin held no prompt" in empty.stderr


def _closed_reader(args: list[str], repo: Path, env: dict[str, str]) -> tuple[int, str]:
    """Run with a stdout nobody reads any more (`| head -1` once head has gone)."""
    process = subprocess.Popen([*CLI, *args], cwd=repo, env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    process.stdout.close()
    err = process.stderr.read()
    return process.wait(timeout=600), err


def test_a_closed_pipe_ends_quietly_as_unix_tools_do(repo, tmp_path, isolated_env):
    script = write_script(tmp_path / "s.json", [{"text": "hi"}])
    assert run_cli(scripted(script, "hello"), repo, isolated_env).returncode == 0  # a session to list
    for args in (["sessions"], ["schema"], scripted(script, "--json", "hello again")):
        code, err = _closed_reader(args, repo, isolated_env)
        assert (code, err) == (141, ""), args  # 128 + SIGPIPE, as a shell reports `head`'s writer


def test_json_starts_with_what_runs_and_ends_with_the_outcome(repo, tmp_path, isolated_env):
    script = write_script(tmp_path / "fix.json", FIX_TURNS)
    proc = run_cli(scripted(script, "--json", "--approval", "auto", "--sandbox", "off",
                            "--no-verify", "fix it"), repo, isolated_env)
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    first, last = events[0], events[-1]
    assert first["type"] == "run_started"
    assert first["session_id"] == sessions_of(isolated_env, repo)[0].id
    assert (first["model"], first["backend"]) == ("fix.json", "scripted")
    assert first["workspace"] == str(repo.resolve())
    assert (first["approval"], first["sandbox"], first["verify"]) == ("auto", "off", False)
    assert first["continued"] is False
    assert first["version"] and first["context_size"] == 32768 and first["max_steps"] == 40
    usage = [e for e in events if e["type"] == "usage"]
    assert last["type"] == "run_finished"
    assert last["reason"] == "answered" and last["exit_code"] == 0 and last["steps"] == 4
    assert last["answer"] == "Fixed `add`: it subtracted. The test passes now."
    assert last["prompt_tokens"] == sum(u["prompt_tokens"] for u in usage) > 0
    assert last["completion_tokens"] == sum(u["completion_tokens"] for u in usage)
    assert last["files_changed"] == ["calc.py"] and last["blocked"] == [] and last["seconds"] > 0


def test_the_eval_harness_reads_the_framed_stream_as_before(repo, tmp_path, isolated_env):
    from evals.harness.agents import metrics_from_events

    script = write_script(tmp_path / "fix.json", FIX_TURNS)
    proc = run_cli(scripted(script, "--json", "--approval", "auto", "--sandbox", "off", "fix it"),
                   repo, isolated_env)
    (tmp_path / "out.jsonl").write_text(proc.stdout)
    metrics = metrics_from_events(tmp_path / "out.jsonl")
    assert (metrics.steps, metrics.tool_calls, metrics.end_reason) == (4, 3, "answered")
    broken = write_script(tmp_path / "broken.json", FIX_TURNS[:1])  # runs out after one step
    proc = run_cli(scripted(broken, "--json", "fix it"), repo, isolated_env)
    assert proc.returncode == 1 and json.loads(proc.stdout.splitlines()[-1])["reason"] == "error"
    (tmp_path / "out.jsonl").write_text(proc.stdout)
    assert metrics_from_events(tmp_path / "out.jsonl").end_reason == "error"


def test_version_and_which_session_continue_goes_on_with(repo, tmp_path, isolated_env):
    assert re.fullmatch(r"gemma-code \d+\.\d+\S*\n", run_cli(["--version"], repo, isolated_env).stdout)
    script = write_script(tmp_path / "s.json", [{"text": "one"}, {"text": "two"}])
    assert run_cli(scripted(script, "first prompt"), repo, isolated_env).returncode == 0
    earlier = sessions_of(isolated_env, repo)[0].id
    proc = run_cli(scripted(script, "--continue", "--json", "again"), repo, isolated_env)
    assert proc.returncode == 0, proc.stderr
    assert f'gemma-code: continuing session {earlier} of ' in proc.stderr
    assert '"first prompt" (1 earlier prompt)' in proc.stderr
    first = json.loads(proc.stdout.splitlines()[0])
    assert first["session_id"] == earlier and first["continued"] is True


def test_a_prompt_longer_than_the_context_is_refused_with_both_sizes(repo, tmp_path, isolated_env):
    script = write_script(tmp_path / "s.json", [{"text": "hi"}])
    prompt = "explain this log:\n" + "error: disk full\n" * 2000
    proc = run_cli(scripted(script, "--context-size", "2048", prompt), repo, isolated_env)
    assert proc.returncode == 2, proc.stderr
    found = re.search(r"the prompt is about ([\d,]+) tokens and the model's context holds 2,048",
                      proc.stderr)
    assert found and int(found[1].replace(",", "")) > 2048
    assert proc.stdout == "" and sessions_of(isolated_env, repo) == []  # no model step, no session


def test_errors_read_as_sentences_that_say_what_to_do(repo, tmp_path, isolated_env):
    proc = run_cli(["run", "--model", "nonexistent-model-xyz", "hi"], repo, isolated_env)
    assert proc.returncode == 1
    assert "there is no model called nonexistent-model-xyz: `gemma-code models` lists" in proc.stderr
    assert "'nonexistent" not in proc.stderr and "Error" not in proc.stderr
    proc = run_cli(scripted(tmp_path / "missing.json", "hi"), repo, isolated_env)
    assert "cannot read script" in proc.stderr and "no such file" in proc.stderr
    assert "[Errno" not in proc.stderr
    assert error_sentence(FileNotFoundError(2, "No such file or directory", "a.toml")) == \
        "a.toml: no such file or directory"
    assert error_sentence(KeyError("x")).startswith("an internal error (KeyError: 'x');")


def test_undo_says_how_to_get_the_later_state_back(repo, tmp_path, isolated_env):
    script = write_script(tmp_path / "s.json", [*FIX_TURNS[:2], {"text": "Fixed."}])
    proc = run_cli(scripted(script, "--approval", "auto", "--no-verify", "fix it"), repo, isolated_env)
    assert proc.returncode == 0, proc.stderr
    with (repo / "calc.py").open("a") as later:
        later.write("# edited by hand after the turn\n")
    before_undo = (repo / "calc.py").read_bytes()
    undone = run_cli(["undo"], repo, isolated_env)
    assert undone.returncode == 0, undone.stderr
    assert (repo / "calc.py").read_text() == "def add(a, b):\n    return a - b\n"
    command = re.search(r"gemma-code undo --show ([0-9a-f]+:calc\.py) > calc\.py", undone.stdout)
    assert command, undone.stdout
    shown = subprocess.run([*CLI, "undo", "--show", command[1]], cwd=repo, env=isolated_env,
                           capture_output=True, timeout=600)
    assert shown.returncode == 0 and shown.stdout == before_undo
    assert (repo / "calc.py").read_text() == "def add(a, b):\n    return a - b\n"  # only shown
