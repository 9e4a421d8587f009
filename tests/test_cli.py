"""`gemma-code` as a user runs it: a real subprocess in a real repository."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from gemma_code.agent.config import ConfigError, load_settings
from gemma_code.agent.events import event_json_schema
from gemma_code.agent.messages import UserMessage
from gemma_code.agent.sessions import SessionStore

from .conftest import run_cli, write_script
from .test_loop import FIX_TURNS


@pytest.fixture
def fix_script(tmp_path: Path) -> Path:
    return write_script(tmp_path / "fix.json", FIX_TURNS)


def test_run_edits_a_real_repository(repo: Path, fix_script: Path, isolated_env):
    proc = run_cli(["run", "--backend", "scripted", "--model", str(fix_script),
                    "--approval", "auto", "fix the failing test"], repo, isolated_env)
    assert proc.returncode == 0, proc.stderr
    assert (repo / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"
    lines = proc.stdout.splitlines()
    assert lines[0] == "Let me look."
    assert lines[1] == "→ read_file(path=calc.py)"
    assert lines[2].startswith("  ✓ ")
    assert any(line.startswith("→ edit_file(path=calc.py, old=return a - b") for line in lines)
    assert lines[-1] == "Fixed `add`: it subtracted. The test passes now."
    assert "4 steps" in proc.stderr


def test_json_output_validates_against_the_documented_schema(repo: Path, fix_script: Path, isolated_env):
    proc = run_cli(["run", "--json", "--backend", "scripted", "--model", str(fix_script),
                    "--approval", "auto", "fix it"], repo, isolated_env)
    assert proc.returncode == 0, proc.stderr
    schema = json.loads(run_cli(["schema"], repo, isolated_env).stdout)
    assert schema == json.loads(json.dumps(event_json_schema()))
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    for event in events:
        jsonschema.validate(event, schema)
    types = [e["type"] for e in events]
    assert types[0] == "run_started" and types[-1] == "run_finished"
    assert types[-2] == "done" and events[-2]["reason"] == "answered"
    assert types.count("tool_call") == 3 and types.count("tool_result") == 3
    call = next(e for e in events if e["type"] == "tool_call")
    assert call["call"]["name"] == "read_file" and call["call"]["arguments"] == {"path": "calc.py"}
    usage = next(e for e in events if e["type"] == "usage")
    assert {"prompt_tokens", "cached_tokens", "completion_tokens",
            "prefill_seconds", "decode_seconds"} <= usage.keys()


def test_headless_ask_mode_leaves_files_alone_and_says_how_to_allow_them(
        repo: Path, fix_script: Path, isolated_env):
    proc = run_cli(["run", "--backend", "scripted", "--model", str(fix_script), "fix it"],
                   repo, isolated_env)
    assert proc.returncode == 3, proc.stderr  # the documented status: the mode blocked the task
    assert "return a - b" in (repo / "calc.py").read_text()
    # the person reads what the mode blocked, not the text written for the model
    assert "  ✗ denied: edit_file wants to change files (approval mode: ask), and no one can " \
        "approve it in a headless run\n" in proc.stdout
    assert "the user denied" not in proc.stdout and "Do not retry" not in proc.stdout
    assert "gemma-code: not run under --approval ask: 2 calls needing approval" in proc.stderr
    assert "  edit_file calc.py: `--approval auto-edit` allows it\n" in proc.stderr
    assert "  run_shell `python -m pytest -q`: `--approval auto" in proc.stderr


@pytest.mark.parametrize("args, message", [
    (["--backend", "scripted", "--model", "missing.json"], "cannot read script"),
    (["--backend", "scripted", "--model", "{script}", "--image", "nope.png"], "--image: nope.png: no such file"),
    (["--backend", "scripted", "--model", "{script}", "--max-steps", "0"], "max_steps"),
])
def test_errors_exit_non_zero_with_one_line(repo, fix_script, isolated_env, args, message):
    args = [a.replace("{script}", str(fix_script)) for a in args]
    proc = run_cli(["run", *args, "hello"], repo, isolated_env)
    assert proc.returncode == 1
    assert proc.stderr.startswith("gemma-code: error:") and message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_run_attaches_the_files_named_with_at(repo: Path, tmp_path: Path, isolated_env):
    (repo / "blob.bin").write_bytes(b"\0\1\2")
    script = write_script(tmp_path / "s.json", [{"text": "It subtracts."}])
    proc = run_cli(["run", "--backend", "scripted", "--model", str(script),
                    "what does @calc.py do? and @blob.bin"], repo, isolated_env)
    assert proc.returncode == 0, proc.stderr
    assert "gemma-code: attached calc.py\n" in proc.stderr
    assert "gemma-code: @blob.bin is not a text file; not attached" in proc.stderr
    store = SessionStore(Path(isolated_env["GEMMA_CODE_SESSIONS_DIR"]))
    _, history = store.load(store.latest(repo.resolve()))
    sent = next(m for m in history if isinstance(m, UserMessage))  # what the model was given
    assert sent.typed.startswith("what does @calc.py do? and @blob.bin\n\nContent of calc.py:")
    assert "```\ndef add(a, b):\n    return a - b\n```" in sent.typed
    assert proc.stdout.strip() == "It subtracts."


def test_script_running_out_is_an_error_not_a_hang(repo, tmp_path, isolated_env):
    script = write_script(tmp_path / "s.json", [{"tool_calls": [{"name": "list_files"}]}])
    proc = run_cli(["run", "--backend", "scripted", "--model", str(script), "go"], repo, isolated_env)
    assert proc.returncode == 1 and "only 1 turns" in proc.stderr


def test_config_layers_and_sources(repo: Path, tmp_path: Path, isolated_env):
    user_dir = Path(isolated_env["XDG_CONFIG_HOME"]) / "gemma-code"
    user_dir.mkdir(parents=True)
    (user_dir / "config.toml").write_text('model = "user-model"\nmax_steps = 7\nshell_timeout = 9\n')
    (repo / ".gemma-code.toml").write_text('max_steps = 12\nshell_allow = ["pytest"]\n')
    env = {**isolated_env, "GEMMA_CODE_SHELL_TIMEOUT": "33"}
    proc = run_cli(["config", "--approval", "auto-edit"], repo, env)
    assert proc.returncode == 0, proc.stderr
    shown = dict(line.split(" = ", 1) for line in proc.stdout.splitlines())
    assert shown["model"] == f'"user-model"  ({user_dir / "config.toml"})'
    assert shown["max_steps"] == f'12  ({repo / ".gemma-code.toml"})'
    # shell_allow lowers safety: a project file sets it only once trusted (tests/test_trust.py)
    assert shown["shell_allow"].startswith(
        f'[]  (default; {repo / ".gemma-code.toml"} sets ["pytest"], ignored: this project is not trusted')
    assert shown["shell_timeout"] == "33.0  (environment)"
    assert shown["approval"] == '"auto-edit"  (command line)'
    assert shown["backend"] == '"auto"  (default)'


def test_config_shows_the_threads_chosen_for_this_machine_and_why(repo: Path, isolated_env):
    from gemma_code.backends.threads import default_threads

    proc = run_cli(["config"], repo, isolated_env)
    assert proc.returncode == 0, proc.stderr
    shown = dict(line.split(" = ", 1) for line in proc.stdout.splitlines())
    choice = default_threads()
    assert shown["n_threads"] == f"{choice.count}  (default: {choice.reason})"
    assert 1 <= choice.count <= (os.cpu_count() or 1)
    proc = run_cli(["config"], repo, {**isolated_env, "GEMMA_CODE_N_THREADS": "3"})
    assert "n_threads = 3  (environment)" in proc.stdout.splitlines()


def test_pyproject_section_and_bad_values(tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text('[tool.gemma-code]\nmax_steps = 9\napproval = "auto"\n')
    settings, sources = load_settings(tmp_path, environ={})
    assert settings.max_steps == 9 and "pyproject.toml" in sources["max_steps"]
    assert settings.approval == "ask" and sources["approval"] == "default"  # not trusted
    with pytest.raises(ConfigError, match="invalid value for approval .*environment"):
        load_settings(tmp_path, environ={"GEMMA_CODE_APPROVAL": "yolo"})
    (tmp_path / ".gemma-code.toml").write_text("colour = 1\n")
    with pytest.raises(ConfigError, match="unknown setting"):
        load_settings(tmp_path, environ={})


def test_notices_start_a_line_of_their_own_on_a_shared_terminal(repo: Path, fix_script: Path, isolated_env):
    # stdout and stderr go to one terminal: a notice must not run on from the answer's last line
    proc = subprocess.run(
        [sys.executable, "-m", "gemma_code.agent.cli", "run", "--backend", "scripted", "--model",
         str(fix_script), "--approval", "auto", "fix the failing test"],
        cwd=repo, env=isolated_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        timeout=600, stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stdout
    lines = proc.stdout.splitlines()
    assert "Fixed `add`: it subtracted. The test passes now." in lines
    assert any(line.startswith("gemma-code: changed calc.py") for line in lines), proc.stdout
