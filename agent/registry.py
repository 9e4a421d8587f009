"""The tool registry: looks tools up, validates arguments and applies the approval policy.

Approval lives here, in one place, for the TUI and headless runs alike. `run` is a
generator so that approval events reach the consumer before the approver is asked:
`result = yield from registry.run(call, ctx)`.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from pydantic import BaseModel, ValidationError

from gemma_code.tools.base import tool_spec

from .checkpoints.records import CheckpointError
from .config import ApprovalMode
from .config_guard import config_write_reason
from .events import AgentEvent, ApprovalNeeded, ApprovalResolved
from .messages import TextPart, ToolCall
from .protocols import (
    ApprovalDecision,
    ApprovalRequest,
    Approver,
    Tool,
    ToolContext,
    ToolError,
    ToolResult,
    ToolSpec,
)
from .safety.checker import dangerous_command
from .safety.secrets import redact_credentials, secret_reason

# Shell syntax that can chain or redirect: an allow-listed prefix says nothing about it.
_SHELL_OPERATORS = (";", "&", "|", "`", "$(", ">", "<", "\n")
# Commands whose second word says what they do (`git status` vs `git push`).
_TWO_WORD_COMMANDS = {"git", "npm", "pnpm", "yarn", "cargo", "go", "uv", "pip", "make", "docker",
                      "poetry", "pipenv", "bundle", "bun", "deno"}
# Subcommands that run the program named next (`npm run build`, `uv run pytest`): "always"
# covers that program too, not everything the subcommand can run.
_RUN_SUBCOMMANDS = {"run", "exec", "x", "dlx"}
_RUNNERS = {"npx", "pnpx", "bunx"}  # `npx jest`: the package they run is part of the prefix
# Interpreters: "always" covers the module (`python -m pytest`) or script they run, never
# the interpreter itself (that would allow every program in its language).
_INTERPRETER = re.compile(r"(python|pypy)[\d.]*|node|ruby|perl|php|bash|sh|zsh")


def _prefix_words(words: list[str]) -> list[str] | None:
    """The narrowest prefix that still means "this kind of command"; None: only this one."""
    first = words[0]
    if _INTERPRETER.fullmatch(first):
        if len(words) > 2 and words[1] == "-m":
            return words[:3]
        return words[:2] if len(words) > 1 and not words[1].startswith("-") else None
    if (first in _RUNNERS or first in _TWO_WORD_COMMANDS) and len(words) == 1:
        return None  # `git` alone: "always" must not cover `git push`
    if first in _RUNNERS:
        return words[:2]
    if first in _TWO_WORD_COMMANDS:
        if words[1] in _RUN_SUBCOMMANDS and len(words) > 2:
            rest = None if words[2].startswith("-") else _prefix_words(words[2:])
            return None if rest is None else words[:2] + rest
        return words[:2]
    return words[:1]


def command_prefix(command: str) -> str:
    """The prefix "approve always" remembers for a shell command: `python -m pytest` for
    `python -m pytest -q`, `npm test`, `git status`; "" when no prefix is narrow enough
    (`python -c CODE`, `sh -c TEXT`, `git` alone): then "always" is not offered."""
    try:
        words = shlex.split(command)
    except ValueError:
        words = command.split()
    if not words:
        return ""
    chosen = _prefix_words(words)
    return " ".join(chosen) if chosen is not None else ""


def _matches_prefix(command: str, prefixes: Sequence[str]) -> bool:
    stripped = command.strip()
    if any(op in stripped for op in _SHELL_OPERATORS):
        return False
    return any(stripped == p or stripped.startswith(p + " ") for p in prefixes if p)


def _validation_message(tool: Tool, exc: ValidationError) -> str:
    problems = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "arguments"
        problems.append(f"{where}: {err['msg']}")
    fields = ", ".join(tool.Args.model_fields)
    return f"invalid arguments for {tool.name}: " + "; ".join(problems) + f". Expected fields: {fields}."


def _redacted(result: ToolResult) -> ToolResult:
    """The result with credentials in URLs and headers hidden (read_file, grep, shell output)."""
    parts = tuple(p.model_copy(update={"text": redact_credentials(p.text)})
                  if isinstance(p, TextPart) else p for p in result.content)
    return replace(result, content=parts, summary=redact_credentials(result.summary))


@dataclass(frozen=True)
class _Gate:
    """Why a call needs a person's yes, and what "approve always" would remember (None: nothing)."""

    reason: str
    remember: str | None
    always: str | None = None  # the remembered thing, for people


class ToolRegistry:
    """The tools of a session and the rules for running them.

    `auto_runs_shell` says whether `auto` mode may run shell commands unasked: true when a
    sandbox confines them or the user turned the sandbox off. `before_change` runs before
    every mutating call (the session takes its checkpoint there).
    """

    def __init__(
        self,
        tools: Sequence[Tool],
        mode: ApprovalMode,
        approver: Approver,
        shell_allow: Sequence[str] = (),
        *,
        auto_runs_shell: bool = True,
        before_change: Callable[[], None] | None = None,
    ) -> None:
        self._tools = {tool.name: tool for tool in tools}
        self.mode: ApprovalMode = mode
        self.approver = approver
        self.shell_allow: list[str] = list(shell_allow)
        self.auto_runs_shell = auto_runs_shell
        self.before_change = before_change
        self._remembered: set[str] = set()

    def keep_approvals_of(self, other: ToolRegistry) -> None:
        """Take over what the person approved "always" in another registry (a replaced session)."""
        self.shell_allow = list(dict.fromkeys([*self.shell_allow, *other.shell_allow]))
        self._remembered |= other._remembered

    def approve_always(self, tool_name: str) -> None:
        """Let `tool_name`'s calls run as if the person had answered "always" (an MCP server
        configured with `approval = "auto"`); read-only mode still refuses a mutating tool."""
        self._remembered.add(f"tool:{tool_name}")

    def specs(self) -> list[ToolSpec]:
        return [tool_spec(tool) for tool in self._tools.values()]

    def names(self) -> list[str]:
        return list(self._tools)

    def edits_files(self, name: str) -> bool:
        """Whether the tool called `name` is a file edit (not a command; False when unknown)."""
        tool = self._tools.get(name)
        return tool is not None and tool.mutating and not tool.runs_commands

    def _secret_gate(self, tool: Tool, args: BaseModel, ctx: ToolContext) -> _Gate | None:
        path = getattr(args, "path", None)
        if self.mode == "auto" or not isinstance(path, str):
            return None
        try:
            resolved = ctx.workspace.resolve(path)
        except ToolError:
            return None  # the tool itself says what is wrong with the path
        why = secret_reason(resolved, named=path)
        key = f"path:{resolved}"
        if why is None or key in self._remembered:
            return None
        shown = ctx.workspace.relative(resolved)
        return _Gate(f"{tool.name} wants to read {shown}, which looks like a secret: {why}", key,
                     f"reading {shown}")

    def _config_gate(self, tool: Tool, args: BaseModel, ctx: ToolContext, planned: object) -> _Gate | None:
        """A file edit that would change gemma-code's own settings asks in every mode, and
        only once: "always" is not offered (see `config_guard`)."""
        path = getattr(args, "path", None)
        if not tool.mutating or tool.runs_commands or not isinstance(path, str):
            return None
        try:
            resolved = ctx.workspace.resolve(path, write=True)
        except ToolError:
            return None  # the tool itself says what is wrong with the path
        why = config_write_reason(resolved, ctx.workspace.root,
                                  planned if isinstance(planned, str) else None)
        return _Gate(f"{tool.name}: {why}", None) if why else None

    def _gate(self, tool: Tool, args: BaseModel, ctx: ToolContext) -> _Gate | None:
        """The approval this call needs under the current mode, or None when it may run."""
        secret = self._secret_gate(tool, args, ctx)
        if secret is not None or not tool.mutating:
            return secret
        command = getattr(args, "command", None) if tool.runs_commands else None
        if command is not None:
            danger = dangerous_command(command, ctx.workspace.root,
                                       confined=ctx.sandbox is not None)
            if danger:
                return _Gate(f"this command {danger}; such commands ask in every mode", None)
        remember = command_prefix(command) if command is not None else f"tool:{tool.name}"
        always = f"`{remember}`" if command is not None else tool.name
        if command is not None and (not remember or any(op in command.strip() for op in _SHELL_OPERATORS)):
            remember = always = None  # no prefix fits, or none lets a chained or redirected command run
        if self.mode == "auto":
            if command is None or self.auto_runs_shell:
                return None
            return _Gate(
                "no sandbox confines shell commands on this machine, so they ask even in "
                "auto mode (install bubblewrap, or set sandbox = \"off\" to run them unconfined)",
                remember, always,
            )
        if command is not None and _matches_prefix(command, self.shell_allow):
            return None
        if command is None and (self.mode == "auto-edit" or remember in self._remembered):
            return None
        kind = ("run a shell command" if command is not None
                else getattr(tool, "approval_action", "change files"))
        return _Gate(f"{tool.name} wants to {kind} (approval mode: {self.mode})", remember, always)

    def _remember(self, gate: _Gate, tool: Tool) -> None:
        if gate.remember is None:
            return
        if tool.runs_commands and not gate.remember.startswith("path:"):
            self.shell_allow.append(gate.remember)
        else:
            self._remembered.add(gate.remember)

    def _check(self, call: ToolCall) -> tuple[Tool, BaseModel] | ToolResult:
        if call.parse_error:
            return ToolResult.error(
                f"your tool call could not be read ({call.parse_error}). "
                "Call exactly one tool with a name and JSON-valid arguments.",
                "malformed",
            )
        tool = self._tools.get(call.name)
        if tool is None:
            known = ", ".join(self._tools)
            return ToolResult.error(f"unknown tool {call.name}; the tools are {known}.",
                                    "malformed")
        try:
            return tool, tool.Args.model_validate(call.arguments)
        except ValidationError as exc:
            return ToolResult.error(_validation_message(tool, exc), "malformed")

    def run(self, call: ToolCall, ctx: ToolContext) -> Generator[AgentEvent, Any, ToolResult]:
        """Validate, approve and execute one call; yields approval events on the way."""
        checked = self._check(call)
        if isinstance(checked, ToolResult):
            return checked
        tool, args = checked
        if tool.mutating and self.mode == "read-only":
            return ToolResult.error(
                f"{tool.name} is not allowed: this session is read-only (no edits, no commands)."
            )
        planned = None  # the diff the call would make, when its tool can tell
        check = getattr(tool, "check", None)  # optional: a dry run before approval
        if check is not None:
            try:
                planned = check(args, ctx)
            except ToolError as exc:
                return _redacted(ToolResult.error(str(exc), exc.kind))
        gate = self._config_gate(tool, args, ctx, planned) or self._gate(tool, args, ctx)
        if gate is not None:
            command = getattr(args, "command", None) if tool.runs_commands else None
            yield ApprovalNeeded(call=call, reason=gate.reason, always=gate.always,
                                 diff=planned if isinstance(planned, str) else None, command=command)
            decision: ApprovalDecision = self.approver.decide(
                ApprovalRequest(
                    call=call, tool=tool.name, reason=gate.reason, command=command,
                    can_remember=gate.remember is not None,
                )
            )
            yield ApprovalResolved(call_id=call.id, approved=decision.approved, note=decision.note)
            if not decision.approved:
                why = f": {decision.note}" if decision.note else ""
                return ToolResult.error(f"the user denied this {tool.name} call{why}")
            if decision.remember:
                self._remember(gate, tool)
        if tool.mutating and self.before_change is not None:
            try:
                self.before_change()
            except CheckpointError as exc:
                return ToolResult.error(f"nothing was changed: no checkpoint could be saved ({exc})")
        try:
            return _redacted(tool(args, ctx))
        except ToolError as exc:  # its message may quote the file (edit_file's closest lines)
            return _redacted(ToolResult.error(str(exc), exc.kind))
        except OSError as exc:
            return ToolResult.error(f"{tool.name} failed: {exc.strerror or exc}")
