"""The inline approval prompt: approve once, approve always, or deny with a reason."""

from __future__ import annotations

from textual import on
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import Button, Input, Static

from gemma_code.agent.events import ApprovalNeeded
from gemma_code.agent.protocols import ApprovalDecision

from .widgets import diff_content, preview

PREVIEW_LINES = 10


def change_preview(event: ApprovalNeeded) -> Content:
    """What the call would do (the command, or the tool's planned diff), for the person to judge."""
    if event.command is not None:
        return Content.styled("$ " + event.command, "$text-accent")
    if event.diff == "":
        return Content.styled("(no change: the file already reads like this)", "$text-muted")
    return preview(diff_content(event.diff), PREVIEW_LINES, False) if event.diff else Content("")


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

    def __init__(self, event: ApprovalNeeded) -> None:
        super().__init__(classes="approval")
        self.event = event
        self.call = event.call
        self.reason = event.reason
        self.always = event.always  # what "always" allows; None: the choice is not offered
        self.answered = False

    def compose(self):
        yield Static(Content.styled(f"⚠ {self.reason}", "bold $text-warning"), classes="approval-reason")
        change = change_preview(self.event)
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
