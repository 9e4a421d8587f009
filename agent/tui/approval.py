"""The inline approval prompt: approve once, approve always, or deny with a reason."""

from __future__ import annotations

from textual import events, on
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import Button, Input, Static

from gemma_code.agent.events import ApprovalNeeded
from gemma_code.agent.protocols import ApprovalDecision

from .render import diff_content, preview

PREVIEW_LINES = 10


def change_preview(event: ApprovalNeeded, expanded: bool = False) -> Content:
    """What the call would do (the command, or the tool's planned diff), for the person to
    judge: folded to PREVIEW_LINES with a hint, or whole once `expanded`."""
    if event.command is not None:
        return Content.styled("$ " + event.command, "$text-accent")
    if event.diff == "":
        return Content.styled("(no change: the file already reads like this)", "$text-muted")
    if not event.diff:
        return Content("")
    folded = preview(diff_content(event.diff), PREVIEW_LINES, False)
    whole = diff_content(event.diff)
    if not expanded or folded.plain == whole.plain:
        return folded
    return Content("\n").join([whole, Content.styled("(Enter or click folds it)", "$text-muted italic")])


def is_folded(event: ApprovalNeeded) -> bool:
    """Whether part of the change is hidden until the person expands it."""
    return change_preview(event).plain != change_preview(event, expanded=True).plain


def always_note(event: ApprovalNeeded) -> str:
    """Exactly what "always" would let through from now on (for this session)."""
    if event.command is not None:
        return (f"a: from now on, commands that start with {event.always} run without asking "
                "(not when chained with ; & | or redirected)")
    return f"a: from now on, {event.always} runs without asking in this session"


def approval_hint(event: ApprovalNeeded) -> str:
    """The working line while the prompt waits: only the choices it offers."""
    keys = ["y once", *(["a always"] if event.always is not None else []), "n deny"]
    shown = ["Enter: whole change"] if is_folded(event) else []
    return "waiting for approval: " + " · ".join([*keys, *shown])


class ApprovalPrompt(Vertical, can_focus=True):
    """Asks the person about one call; posts `Answered` once."""

    BINDINGS = [
        ("y", "approve", "Once"),
        ("a", "always", "Always"),
        ("n", "deny", "Deny"),
        Binding("enter", "expand", "Whole change", show=False),
        # Reading a long change: the keys scroll the conversation it is part of.
        Binding("pageup", "app.transcript_page(-1)", "Scroll up", show=False),
        Binding("pagedown", "app.transcript_page(1)", "Scroll down", show=False),
        Binding("up", "app.transcript_line(-1)", "Line up", show=False),
        Binding("down", "app.transcript_line(1)", "Line down", show=False),
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
        self.expanded = False

    def compose(self):
        yield Static(Content.styled(f"⚠ {self.reason}", "bold $text-warning"), classes="approval-reason")
        change = change_preview(self.event)
        if change.plain:
            yield Static(change, classes="approval-change")
        if self.always is not None:
            yield Static(Content.styled(always_note(self.event), "$text-muted"), classes="approval-always")
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

    def action_expand(self) -> None:
        """Enter (or a click on the change): the whole change, or folded again; the view goes
        to its first line, so it can be read down to the buttons."""
        if not is_folded(self.event):
            return
        self.expanded = not self.expanded
        change = self.query_one(".approval-change", Static)
        change.update(change_preview(self.event, self.expanded))
        if self.expanded:
            self.call_after_refresh(change.scroll_visible, top=True, animate=False)

    @on(events.Click, ".approval-change")
    def _clicked(self, event: events.Click) -> None:
        event.stop()  # not the tool block's own toggle
        self.action_expand()

    def on_click(self, event: events.Click) -> None:
        event.stop()  # a click in the prompt (a button) does not fold the tool block

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
