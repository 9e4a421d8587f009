"""The real app, in a real terminal (tmux), with the bundled real model.

A person's view: start `gemma-code`, type a request, watch the answer stream and a tool
block appear, quit with Ctrl+C twice. Slow on 2 CPU cores (a minute or two).
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.real_model

TOOL_LINE = re.compile(r"█ (read_file|list_files|grep|edit_file|write_file|run_shell)\b")
# Greedy decoding (--temperature 0) and a request that needs a tool keep the run repeatable.
PROMPT = "Which files are in this repository? Use a tool to find out."


class Tmux:
    """One tmux server on a private socket, holding one session."""

    def __init__(self, env: dict[str, str]) -> None:
        self.socket = f"gemma-code-test-{uuid.uuid4().hex[:8]}"
        self.name = "app"
        self.env = env

    def tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], env=self.env, check=True,
                              capture_output=True, text=True, timeout=30).stdout

    def start(self, command: str, cwd: Path) -> None:
        self.tmux("new-session", "-d", "-x", "120", "-y", "40", "-s", self.name, "-c", str(cwd), command)

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", self.name)

    def keys(self, *keys: str, literal: bool = False) -> None:
        self.tmux("send-keys", "-t", self.name, *(["-l"] if literal else []), *keys)

    def wait(self, condition, timeout: float, what: str) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if condition(screen):
                return screen
            time.sleep(1)
        raise AssertionError(f"timed out waiting for {what}; the screen shows:\n{self.screen()}")

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], env=self.env,
                       capture_output=True, timeout=30)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_the_real_app_streams_an_answer_and_shows_a_tool_block(repo: Path, isolated_env):
    app = shlex.join([sys.executable, "-m", "gemma_code.agent.cli",
                      "--model", "qwen2.5-coder-1.5b", "--approval", "auto", "--temperature", "0"])
    # No hotter resample of a repeat: what the screen shows stays the same run after run.
    term = Tmux({**isolated_env, "GEMMA_CODE_RETRY_TEMPERATURE": "0"})
    # The shell stays after the app exits, so the line it prints on the way out can be read.
    term.start(f"{app}; echo APP-EXITED-$?; sleep 60", repo)
    try:
        term.wait(lambda s: "model ready: qwen2.5-coder-1.5b" in s, 300, "the model to load")
        term.keys(PROMPT, literal=True)
        term.keys("Enter")
        started = term.wait(lambda s: re.search(r"working… \d+s · \d+ tokens · Esc interrupts", s),
                            30, "the turn to start")
        assert "› " + PROMPT in started
        term.wait(lambda s: TOOL_LINE.search(s), 300, "a tool block")
        done = term.wait(lambda s: "working…" not in s and "decode" in s, 300, "the answer")
        after_tool = done[TOOL_LINE.search(done).end():]
        prose = [line for line in after_tool.splitlines()
                 if re.search(r"[A-Za-z]{3,} [A-Za-z]{3,}", line) and "│" not in line
                 and "█" not in line and "message · Enter" not in line and "Quit" not in line]
        print(done)  # shown with -s: what the screen held when the answer was done
        assert prose, f"no answer text after the tool block:\n{done}"
        assert re.search(r"decode [1-9]\d* tok/s", done), done
        term.keys("C-c")
        term.keys("C-c")
        out = term.wait(lambda s: "APP-EXITED-" in s, 60, "the app to quit")
        assert "APP-EXITED-0" in out and "gemma-code --resume" in out
    finally:
        term.kill()
