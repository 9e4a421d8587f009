"""run_shell: one bash command in the workspace root, with a timeout that kills the whole group."""

from __future__ import annotations

import codecs
import contextlib
import ctypes
import functools
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from gemma_code.agent.protocols import ShellSandbox, ToolContext, ToolError, ToolResult

from .shell_env import sandbox_environment

MAX_TIMEOUT = 600.0
HEAD_BYTES = 8192
TAIL_BYTES = 8192
KILL_GRACE = 2.0  # seconds between SIGTERM and SIGKILL
DRAIN_AFTER_EXIT = 0.5  # how long to keep reading after the shell exits (background children)
POLL = 0.05
CHUNK = 1 << 16
ENV_OVERRIDES = {"GIT_TERMINAL_PROMPT": "0", "PAGER": "cat", "GIT_PAGER": "cat"}
PR_SET_PDEATHSIG = 1
# Messages by which a command that failed inside a sandbox most likely hit its walls.
READ_ONLY_SYMPTOMS = ("Read-only file system",)
NETWORK_SYMPTOMS = (
    "Could not resolve host",
    "Network is unreachable",
    "Temporary failure in name resolution",
    "Name or service not known",
)


class OutputBuffer:
    """Keeps the first and last few KB of a stream and counts the bytes in between."""

    def __init__(self, head: int = HEAD_BYTES, tail: int = TAIL_BYTES) -> None:
        self.head_limit, self.tail_limit = head, tail
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self.head_limit - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if chunk:
            self.tail += chunk
            if len(self.tail) > self.tail_limit:
                del self.tail[: len(self.tail) - self.tail_limit]

    @property
    def dropped(self) -> int:
        return self.total - len(self.head) - len(self.tail)

    def render(self) -> str:
        head = self.head.decode("utf-8", errors="replace")
        tail = self.tail.decode("utf-8", errors="replace")
        if self.dropped <= 0:
            return head + tail
        sep = "" if head.endswith("\n") else "\n"
        return f"{head}{sep}[... {self.dropped} bytes of output left out ...]\n{tail}"


class RunShell:
    """Run a shell command in the workspace root."""

    name: ClassVar[str] = "run_shell"
    description: ClassVar[str] = (
        "Run a bash command in the workspace root and return its exit code and output "
        "(stdout and stderr together). Use it to run tests, build, git, or other programs. "
        "There is no input: commands must not wait for typing."
    )
    mutating: ClassVar[bool] = True
    runs_commands: ClassVar[bool] = True

    class Args(BaseModel):
        model_config = ConfigDict(extra="forbid")
        command: str = Field(description="The bash command line to run, e.g. 'pytest -q tests/'.")
        timeout: float = Field(
            default=0,
            ge=0,
            description=f"Seconds before the command is killed; 0 means the session default. "
            f"At most {MAX_TIMEOUT:.0f}.",
        )

    def __call__(self, args: RunShell.Args, ctx: ToolContext) -> ToolResult:
        if not args.command.strip():
            raise ToolError("command is empty; give a bash command to run.")
        if "\0" in args.command:
            raise ToolError("the command holds a NUL byte, which bash cannot be given; remove it.")
        timeout = min(args.timeout or ctx.shell_timeout, MAX_TIMEOUT)
        if ctx.cancel.is_set():
            return ToolResult.text(
                "[cancelled before it started]",
                is_error=True,
                summary=f"cancelled: {_short(args.command)}",
            )
        argv = ["bash", "-c", args.command]
        if ctx.sandbox is not None:
            argv = ctx.sandbox.wrap(argv, ctx.workspace.root)
        started = time.monotonic()
        proc = subprocess.Popen(
            argv,
            cwd=ctx.workspace.root,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=_environment(ctx.sandbox),
            # A sandbox ends its processes itself when we die (bwrap --die-with-parent).
            preexec_fn=_die_with_parent() if ctx.sandbox is None else None,
        )
        buffer = OutputBuffer()
        try:
            outcome = _pump(proc, buffer, started + timeout, ctx.cancel, ctx.output)
        finally:
            proc.stdout.close()
            if proc.poll() is None:
                _kill_group(proc)
        result = _result(
            args.command, proc.returncode, outcome, buffer, time.monotonic() - started, timeout
        )
        note = _sandbox_note(ctx.sandbox, result) if outcome == "exit" else None
        return result.with_note(note) if note else result


def _environment(sandbox: ShellSandbox | None) -> dict[str, str]:
    """The command's environment: a sandboxed one gets no credential-looking variables."""
    env = {**os.environ, **ENV_OVERRIDES}
    if sandbox is None:
        return env
    return sandbox_environment(env, getattr(sandbox, "env_pass", ()))


def _pump(
    proc: subprocess.Popen, buffer: OutputBuffer, deadline: float, cancel: threading.Event,
    output: Callable[[str], None] | None = None,
) -> str:
    """Read output until the shell exits and the pipe drains; "exit", "timeout" or "cancelled".
    `output` (someone watching) gets it as it comes."""
    outcome, exited_at = "exit", None
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    fd = proc.stdout.fileno()
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while True:
            if selector.select(POLL):
                chunk = os.read(fd, CHUNK)
                if not chunk:
                    break
                buffer.add(chunk)
                if output is not None:
                    output(decoder.decode(chunk))
            if proc.poll() is not None:
                exited_at = exited_at or time.monotonic()
                # Background children can hold the pipe open forever; stop reading soon after exit.
                if time.monotonic() - exited_at > DRAIN_AFTER_EXIT:
                    break
            elif cancel.is_set():
                outcome = "cancelled"
                _kill_group(proc)
            elif time.monotonic() > deadline:
                outcome = "timeout"
                _kill_group(proc)
    proc.wait()
    return outcome


def _kill_group(proc: subprocess.Popen) -> None:
    """SIGTERM the command's whole process group, then SIGKILL what is left after a grace period."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(KILL_GRACE)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # also children that ignored SIGTERM
    proc.wait()


@functools.cache
def _prctl() -> Callable[..., int] | None:
    """libc's prctl on Linux, looked up once; None elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def _die_with_parent() -> Callable[[], None] | None:
    """A preexec function that has the kernel SIGKILL bash when gemma-code dies; Linux only.

    The signal follows the thread that starts bash; RunShell waits on that same thread.
    """
    prctl = _prctl()
    if prctl is None:
        return None
    parent, kill = os.getpid(), int(signal.SIGKILL)

    def set_death_signal() -> None:
        prctl(PR_SET_PDEATHSIG, kill, 0, 0, 0)
        if os.getppid() != parent:  # we died before the signal was set up
            os._exit(1)

    return set_death_signal


def _sandbox_note(sandbox: ShellSandbox | None, result: ToolResult) -> str | None:
    """A line for the model when a sandboxed command failed the way a sandbox makes it fail."""
    if sandbox is None or not result.exit_code:
        return None
    output = result.content[0].text
    offline = not getattr(sandbox, "network", False)
    if not any(s in output for s in READ_ONLY_SYMPTOMS) and not (
        offline and any(s in output for s in NETWORK_SYMPTOMS)
    ):
        return None
    walls = "the workspace is writable, everything else is read-only"
    if offline:
        walls += ", and there is no network"
    return (
        f"[note: shell commands run in a sandbox ({sandbox.name}): {walls}. Retrying will "
        "fail the same way; work inside the workspace, or tell the user what is needed.]"
    )


def _short(command: str, limit: int = 60) -> str:
    """The command's first line, cut to `limit` characters, for one-line summaries."""
    lines = command.strip().splitlines()
    if len(lines) > 1 or len(lines[0]) > limit:
        return lines[0][:limit].rstrip() + "..."
    return lines[0]


def _result(
    command: str, code: int, outcome: str, buffer: OutputBuffer, took: float, timeout: float
) -> ToolResult:
    output = buffer.render() or "(no output)"
    if not output.endswith("\n"):
        output += "\n"
    short = _short(command)
    if outcome == "timeout":
        text = (
            f"{output}[killed after {timeout:g}s: the command timed out; output above is partial]"
        )
        return ToolResult.text(
            text, is_error=True, exit_code=code, summary=f"timed out after {timeout:g}s: {short}",
            error_kind="timed_out",
        )
    if outcome == "cancelled":
        text = f"{output}[cancelled by the user after {took:.1f}s; output above is partial]"
        return ToolResult.text(text, is_error=True, exit_code=code, summary=f"cancelled: {short}")
    text = f"{output}[exit code {code} after {took:.1f}s]"
    return ToolResult.text(text, exit_code=code, summary=f"exit {code} in {took:.1f}s: {short}")
