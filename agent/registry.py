"""The tool registry: looks tools up, validates arguments and applies the approval policy.

Approval lives here, in one place, for the TUI and headless runs alike. `run` is a
generator so that approval events reach the consumer before the approver is asked:
`result = yield from registry.run(call, ctx)`.
"""

from __future__ import annotations

import shlex
from collections.abc import Generator, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from gemma_code.tools.base import tool_spec

from .config import ApprovalMode
from .events import AgentEvent, ApprovalNeeded, ApprovalResolved
from .messages import ToolCall
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

# Shell syntax that can chain or redirect: an allow-listed prefix says nothing about it.
_SHELL_OPERATORS = (";", "&", "|", "`", "$(", ">", "<", "\n")
# Commands whose second word says what they do (`git status` vs `git push`).
_TWO_WORD_COMMANDS = {"git", "npm", "pnpm", "yarn", "cargo", "go", "uv", "pip", "make", "docker"}


def command_prefix(command: str) -> str:
    """The prefix "approve always" remembers for a shell command."""
    try:
        words = shlex.split(command)
    except ValueError:
        words = command.split()
    if not words:
        return ""
    take = 2 if words[0] in _TWO_WORD_COMMANDS and len(words) > 1 else 1
    return " ".join(words[:take])


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


class ToolRegistry:
    """The tools of a session and the rules for running them."""

    def __init__(
        self,
        tools: Sequence[Tool],
        mode: ApprovalMode,
        approver: Approver,
        shell_allow: Sequence[str] = (),
    ) -> None:
        self._tools = {tool.name: tool for tool in tools}
        self.mode: ApprovalMode = mode
        self.approver = approver
        self.shell_allow: list[str] = list(shell_allow)
        self._always_tools: set[str] = set()

    def specs(self) -> list[ToolSpec]:
        return [tool_spec(tool) for tool in self._tools.values()]

    def names(self) -> list[str]:
        return list(self._tools)

    def _approval_reason(self, tool: Tool, args: BaseModel) -> str | None:
        """Why this call needs a person's yes, or None when policy lets it run."""
        if not tool.mutating or self.mode == "auto" or tool.name in self._always_tools:
            return None
        command = getattr(args, "command", None) if tool.runs_commands else None
        if command is not None and _matches_prefix(command, self.shell_allow):
            return None
        if self.mode == "auto-edit" and not tool.runs_commands:
            return None
        kind = "run a shell command" if tool.runs_commands else "change files"
        return f"{tool.name} wants to {kind} (approval mode: {self.mode})"

    def _remember(self, tool: Tool, args: BaseModel) -> None:
        command = getattr(args, "command", None) if tool.runs_commands else None
        if command is not None:
            self.shell_allow.append(command_prefix(command))
        else:
            self._always_tools.add(tool.name)

    def _check(self, call: ToolCall) -> tuple[Tool, BaseModel] | ToolResult:
        if call.parse_error:
            return ToolResult.error(
                f"your tool call could not be read ({call.parse_error}). "
                "Call exactly one tool with a name and JSON-valid arguments."
            )
        tool = self._tools.get(call.name)
        if tool is None:
            known = ", ".join(self._tools)
            return ToolResult.error(f"unknown tool {call.name!r}. Available tools: {known}.")
        try:
            return tool, tool.Args.model_validate(call.arguments)
        except ValidationError as exc:
            return ToolResult.error(_validation_message(tool, exc))

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
        reason = self._approval_reason(tool, args)
        if reason is not None:
            yield ApprovalNeeded(call=call, reason=reason)
            decision: ApprovalDecision = self.approver.decide(
                ApprovalRequest(
                    call=call, tool=tool.name, reason=reason,
                    command=getattr(args, "command", None) if tool.runs_commands else None,
                )
            )
            yield ApprovalResolved(call_id=call.id, approved=decision.approved, note=decision.note)
            if not decision.approved:
                why = f": {decision.note}" if decision.note else ""
                return ToolResult.error(f"the user denied this {tool.name} call{why}")
            if decision.remember:
                self._remember(tool, args)
        try:
            return tool(args, ctx)
        except ToolError as exc:
            return ToolResult.error(str(exc))
        except OSError as exc:
            return ToolResult.error(f"{tool.name} failed: {exc.strerror or exc}")
