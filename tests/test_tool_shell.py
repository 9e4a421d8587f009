"""run_shell with real subprocesses: output, exit codes, timeouts, cancellation, big output."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from gemma_code.agent.protocols import ToolContext, ToolError
from gemma_code.agent.workspace import LocalWorkspace
from gemma_code.tools.shell import RunShell


@pytest.fixture
def ctx(tmp_path: Path) -> ToolContext:
    return ToolContext(workspace=LocalWorkspace(tmp_path), shell_timeout=30)


def run(ctx: ToolContext, command: str, **kwargs):
    return RunShell()(RunShell.Args(command=command, **kwargs), ctx)


def text_of(result) -> str:
    return result.content[0].text


def alive(pid: int) -> bool:
    """Whether `pid` is a live process (a zombie waiting for its reaper counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_dead(pid: int, within: float = 3.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_success_output_and_summary(ctx, tmp_path):
    result = run(ctx, "echo hello; echo oops >&2; pwd")
    text = text_of(result)
    assert text.startswith(f"hello\noops\n{tmp_path.resolve()}\n")
    assert "[exit code 0 after" in text
    assert result.exit_code == 0 and not result.is_error
    assert result.summary.startswith("exit 0 in ") and result.summary.endswith(
        "s: echo hello; echo oops >&2; pwd"
    )


def test_non_zero_exit_is_not_a_tool_error(ctx):
    result = run(ctx, "echo failing; exit 3")
    assert result.exit_code == 3 and not result.is_error
    assert "[exit code 3 after" in text_of(result)


def test_no_output(ctx):
    assert text_of(run(ctx, "true")).startswith("(no output)\n")


def test_stdin_is_empty(ctx):
    started = time.monotonic()
    result = run(ctx, "cat; read -r line; echo read=$?")
    assert time.monotonic() - started < 5
    assert "read=1" in text_of(result)


def test_environment(ctx):
    text = text_of(run(ctx, "echo $GIT_TERMINAL_PROMPT $PAGER $GIT_PAGER $HOME"))
    assert text.startswith(f"0 cat cat {os.environ['HOME']}\n")


def test_timeout_kills_the_whole_group(ctx, tmp_path):
    started = time.monotonic()
    result = run(ctx, "sleep 100 & echo $! > child.pid; echo started; wait", timeout=1)
    elapsed = time.monotonic() - started
    assert elapsed < 5
    assert result.is_error
    assert "started" in text_of(result) and "killed after 1s" in text_of(result)
    assert result.summary.startswith("timed out after 1s")
    child = int((tmp_path / "child.pid").read_text())
    assert wait_dead(child), "the background child survived the timeout"


def test_timeout_defaults_to_context(tmp_path):
    ctx = ToolContext(workspace=LocalWorkspace(tmp_path), shell_timeout=0.5)
    started = time.monotonic()
    result = run(ctx, "sleep 100")
    assert result.is_error and time.monotonic() - started < 4


def test_sigterm_ignored_gets_sigkill(ctx, tmp_path):
    started = time.monotonic()
    result = run(ctx, "trap '' TERM; sleep 100 & echo $! > child.pid; wait; wait", timeout=0.5)
    assert result.is_error and time.monotonic() - started < 6
    assert wait_dead(int((tmp_path / "child.pid").read_text()))


def test_cancel_kills_the_command(ctx, tmp_path):
    threading.Timer(0.5, ctx.cancel.set).start()
    started = time.monotonic()
    result = run(ctx, "sleep 100 & echo $! > child.pid; wait")
    assert time.monotonic() - started < 5
    assert result.is_error and "cancelled" in text_of(result)
    assert result.summary.startswith("cancelled")
    assert wait_dead(int((tmp_path / "child.pid").read_text()))


def test_cancel_set_before_start_runs_nothing(ctx, tmp_path):
    ctx.cancel.set()
    result = run(ctx, "touch ran")
    assert result.is_error and not (tmp_path / "ran").exists()


def test_ten_megabytes_of_output_keeps_head_and_tail(ctx):
    started = time.monotonic()
    result = run(ctx, "seq 1 1500000")  # 10,888,896 bytes
    assert time.monotonic() - started < 10
    text = text_of(result)
    assert text.startswith("1\n2\n3\n")
    assert "1499999\n1500000\n[exit code 0" in text
    assert "[... 10872512 bytes of output left out ...]" in text
    assert len(text) < 20_000
    assert result.exit_code == 0


def test_background_process_holding_the_pipe_does_not_block(ctx, tmp_path):
    started = time.monotonic()
    result = run(ctx, "sleep 30 & echo $! > bg.pid; echo done")
    pid = int((tmp_path / "bg.pid").read_text())
    try:
        assert time.monotonic() - started < 5
        assert text_of(result).startswith("done\n") and result.exit_code == 0
    finally:
        os.kill(pid, signal.SIGKILL)


def test_empty_command(ctx):
    with pytest.raises(ToolError, match="empty"):
        run(ctx, "   ")


def test_long_multiline_summary_is_one_line(ctx):
    result = run(ctx, "echo " + "x" * 100 + "\necho second")
    assert "\n" not in result.summary and result.summary.endswith("...")


# --- issue 18: what sandboxed commands see of the user's credentials -----------------------------

from gemma_code.tools.sandbox import detect_sandbox  # noqa: E402
from gemma_code.tools.shell_env import looks_like_credential, sandbox_environment  # noqa: E402

CREDENTIALS = {
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
    "AWS_PROFILE": "work",
    "GITHUB_TOKEN": "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
    "OPENAI_API_KEY": "sk-test",
    "DB_PASSWORD": "hunter2",
    "STRIPE_SECRET_LIVE": "sk_live_x",
    "NPM_CONFIG__AUTH": "dXNlcjpwYXNz",
    "SSH_AUTH_SOCK": "/tmp/ssh-agent.sock",
    "DATABASE_URL": "postgres://app:hunter2@db/app",
    "MY_SETTING": "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
}
HARMLESS = {"TOKENIZERS_PARALLELISM": "false", "KEYBOARD_LAYOUT": "us", "PWD": "/x",
            "SSH_ASKPASS": "/usr/bin/ask", "EDITOR": "vim", "LANG": "C.UTF-8"}


@pytest.mark.parametrize("name", CREDENTIALS)
def test_credential_variables_are_recognised(name):
    assert looks_like_credential(name, CREDENTIALS[name])


@pytest.mark.parametrize("name", HARMLESS)
def test_ordinary_variables_are_kept(name):
    assert not looks_like_credential(name, HARMLESS[name])


def test_the_pass_list_keeps_named_variables():
    env = sandbox_environment({**CREDENTIALS, **HARMLESS}, passed=["AWS_PROFILE", "NPM_*"])
    assert set(env) == {*HARMLESS, "AWS_PROFILE", "NPM_CONFIG__AUTH"}


SANDBOX = detect_sandbox()


@pytest.mark.skipif(SANDBOX is None, reason="no usable shell sandbox here (install bubblewrap)")
def test_sandboxed_commands_do_not_see_credentials(tmp_path, monkeypatch):
    for name, value in {**CREDENTIALS, **HARMLESS}.items():
        if name not in ("PWD",):
            monkeypatch.setenv(name, value)
    sandbox = detect_sandbox(env_pass=("AWS_PROFILE",))
    ctx = ToolContext(workspace=LocalWorkspace(tmp_path), shell_timeout=30, sandbox=sandbox)
    shown = text_of(run(ctx, "env"))
    for name in CREDENTIALS:
        assert (f"{name}=" in shown) == (name == "AWS_PROFILE"), name
    assert "hunter2" not in shown and "wJalr" not in shown
    assert "EDITOR=vim" in shown and "TOKENIZERS_PARALLELISM=false" in shown


def test_unconfined_commands_keep_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "kept-for-unconfined")
    ctx = ToolContext(workspace=LocalWorkspace(tmp_path), shell_timeout=30)
    assert "GITHUB_TOKEN=kept-for-unconfined" in text_of(run(ctx, "env"))


def test_shell_output_hides_credentials_in_urls(tmp_path):
    from gemma_code.agent.approval import DenyApprover
    from gemma_code.agent.messages import ToolCall
    from gemma_code.agent.registry import ToolRegistry

    registry = ToolRegistry([RunShell()], "auto", DenyApprover())
    command = "echo fetching https://bot:s3cr3t-t0ken@git.example.com/r.git"
    call = registry.run(ToolCall(name="run_shell", arguments={"command": command}),
                        ToolContext(workspace=LocalWorkspace(tmp_path), shell_timeout=30,
                                    sandbox=SANDBOX))
    with pytest.raises(StopIteration) as stop:
        next(call)
    text = text_of(stop.value.value)
    assert "git.example.com/r.git" in text and "s3cr3t" not in text


def test_shell_env_pass_is_a_setting_that_a_project_file_cannot_widen(tmp_path, monkeypatch):
    from gemma_code.agent.config import load_settings

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    settings, _ = load_settings(tmp_path, environ={"GEMMA_CODE_SHELL_ENV_PASS": "AWS_PROFILE, NPM_*"})
    assert settings.shell_env_pass == ("AWS_PROFILE", "NPM_*")
    (tmp_path / ".gemma-code.toml").write_text('shell_env_pass = ["GITHUB_TOKEN"]\n')
    settings, _ = load_settings(tmp_path, environ={})
    assert settings.shell_env_pass == ()
