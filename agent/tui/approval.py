"""The inline approval prompt: approve once, approve always, or deny with a reason."""

from __future__ import annotations

from pathlib import Path

from textual import on
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import Button, Input, Static

from gemma_code.agent.messages import ToolCall
from gemma_code.agent.protocols import ApprovalDecision, ToolError
from gemma_code.tools.textfile import find_edit, unified_diff

from .widgets import diff_content, preview

PREVIEW_LINES = 10


def _current_text(root: Path | None, name: str) -> str | None:
    """The file's text today, or None when it is not there (or not readable as text)."""
    if root is None:
        return None
    path = (root / name).resolve()
    if not path.is_relative_to(root.resolve()) or not path.is_file():
        return None
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _planned_diff(call: ToolCall, root: Path | None) -> str | None:
    """The diff the call would make, worked out from the file as it is now."""
    args, name = call.arguments, str(call.arguments.get("path", "?"))
    old = _current_text(root, name)
    try:
        if call.name == "write_file":
            return unified_diff(old or "", str(args.get("content", "")), name)
        if call.name == "edit_file" and old is not None:
            edit = find_edit(old, str(args.get("old", "")), str(args.get("new", "")),
                             replace_all=bool(args.get("replace_all")), shown=name)
            return unified_diff(old, edit.text, name)
    except ToolError:
        return None  # the tool will say what is wrong
    return None


def change_preview(call: ToolCall, root: Path | None = None) -> Content:
    """What the call would do, for the person to judge before saying yes."""
    args = call.arguments
    if call.name == "run_shell":
        return Content.styled("$ " + str(args.get("command", "")), "$text-accent")
    diff = _planned_diff(call, root)
    if diff == "":
        return Content.styled("(no change: the file already reads like this)", "$text-muted")
    if diff is None and call.name == "edit_file":
        lines = [f"-{line}" for line in str(args.get("old", "")).splitlines()]
        diff = "\n".join(lines + [f"+{line}" for line in str(args.get("new", "")).splitlines()])
    return preview(diff_content(diff), PREVIEW_LINES, False) if diff else Content("")


class ApprovalPrompt(Vertical, can_focus=True):
    """Asks the person about one call; posts `Answered` once."""

    BINDINGS = [
        ("y", "approve", "Approve"),
        ("a", "always", "Always"),
        ("n", "deny", "Deny"),
    ]

    class Answered(Message):
        def __init__(self, call_id: str, decision: ApprovalDecision) -> None:
            self.call_id = call_id
            self.decision = decision
            super().__init__()

    def __init__(
        self, call: ToolCall, reason: str, root: Path | None = None, always: str | None = None
    ) -> None:
        super().__init__(classes="approval")
        self.call = call
        self.reason = reason
        self.always = always  # what "always" allows; None: the choice is not offered
        self.root = root
        self.answered = False

    def compose(self):
        yield Static(Content.styled(f"⚠ {self.reason}", "bold $text-warning"), classes="approval-reason")
        change = change_preview(self.call, self.root)
        if change.plain:
            yield Static(change, classes="approval-change")
        with Horizontal(classes="approval-buttons"):
            yield Button("y approve once", id="approve", variant="success", compact=True)
            if self.always is not None:
                # Content, not markup: a command prefix may hold brackets (`[ -f x ]`).
                yield Button(Content(f"a always allow {self.always}"), id="always",
                             variant="primary", compact=True)
            yield Button("n deny…", id="deny", variant="error", compact=True)
        yield Input(placeholder="Why not? The model reads this (Enter sends)", classes="deny-reason",
                    compact=True)

    def on_mount(self) -> None:
        self.query_one(".deny-reason", Input).display = False

    def answer(self, decision: ApprovalDecision) -> None:
        if self.answered:
            return
        self.answered = True
        self.post_message(self.Answered(self.call.id, decision))

    def action_approve(self) -> None:
        self.answer(ApprovalDecision(approved=True))

    def action_always(self) -> None:
        if self.always is not None:
            self.answer(ApprovalDecision(approved=True, remember=True))

    def action_deny(self) -> None:
        reason = self.query_one(".deny-reason", Input)
        reason.display = True
        reason.focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        {"approve": self.action_approve, "always": self.action_always, "deny": self.action_deny}[
            event.button.id or "deny"
        ]()

    @on(Input.Submitted, ".deny-reason")
    def _denied(self, event: Input.Submitted) -> None:
        event.stop()
        self.answer(ApprovalDecision(approved=False, note=event.value.strip()))
