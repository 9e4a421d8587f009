"""Transcript blocks: user message, assistant markdown, thinking, tool calls, notices."""

from __future__ import annotations

import re
import time

from textual.containers import Vertical
from textual.timer import Timer
from textual.content import Content
from textual.widgets import Collapsible, Markdown, ProgressBar, Static
from textual.widgets.markdown import MarkdownStream

from gemma_code.agent.events import ToolFinished
from gemma_code.agent.messages import ToolCall
from gemma_code.agent.safety.secrets import redact_credentials

from .render import (
    call_headline, diff_content, elapsed, is_failure, preview, status_line, without_exit_trailer,
)

__all__ = ["diff_content", "preview"]  # re-exported: where other modules found them first

OUTPUT_PREVIEW_LINES = 5
DIFF_PREVIEW_LINES = 12
SPINNER_FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
LIVE_CHARS = 16_384  # how much of a running command's output is kept for its live view
LIVE_SECONDS = 0.1  # the live view is redrawn at most this often
_OVERWRITTEN = re.compile(r"[^\n]*\r(?!\n)")  # a progress line that `\r` wrote over


def _without_command(summary: str, command: object) -> str:
    """`exit 1 in 1.3s` for `exit 1 in 1.3s: pytest -q`: the headline shows the command."""
    head, colon, tail = summary.partition(": ")
    shown = tail.removesuffix("...")
    if colon and isinstance(command, str) and shown and command.strip().startswith(shown):
        return head
    return summary


class Spinner(Static):
    """A one-cell spinner that turns while it is on screen.

    Each turn redraws the screen: a hidden spinner (every finished tool's, the working line's
    between turns) kept doing so ten times a second, taking CPU from the model's threads."""

    def on_mount(self) -> None:
        self._frame = 0
        self.update(SPINNER_FRAMES[0])
        self._timer = self.set_interval(0.2, self._turn, pause=True)

    def on_show(self) -> None:
        self._timer.resume()

    def on_hide(self) -> None:
        self._timer.pause()

    def _turn(self) -> None:
        self._frame = (self._frame + 1) % len(SPINNER_FRAMES)
        self.update(SPINNER_FRAMES[self._frame], layout=False)  # one cell: no layout needed


class UserBlock(Static):
    """What the person sent, with the files attached through `@path`."""

    def __init__(self, text: str, attached: list[str] | tuple[str, ...] = (), queued: bool = False) -> None:
        body = Content.assemble(("› ", "bold $text-primary"), text)
        if attached:
            body = body.append(Content.styled("\nattached: " + ", ".join(attached), "$text-muted"))
        if queued:
            body = body.append(Content.styled("\nqueued: sent when the turn before it ends", "$text-muted"))
        super().__init__(body, classes="block user")


class AssistantBlock(Markdown):
    """The assistant's answer; streamed as it is generated, `FLUSH_SECONDS` apart at most."""

    # Markdown re-parses and lays out its last block on every update: once a token, that took
    # CPU from the model's threads on a small machine. Ten updates a second read as smoothly.
    FLUSH_SECONDS = 0.25

    def __init__(self, text: str = "") -> None:
        super().__init__(text, classes="block assistant")
        self._stream: MarkdownStream | None = None
        self._pending: list[str] = []
        self._flush_timer: Timer | None = None

    async def write(self, fragment: str) -> None:
        self._pending.append(fragment)
        if self._flush_timer is None:
            self._flush_timer = self.set_timer(self.FLUSH_SECONDS, self._flush)

    async def _flush(self) -> None:
        self._flush_timer = None
        if self._pending:
            text, self._pending = "".join(self._pending), []
            if self._stream is None:
                self._stream = Markdown.get_stream(self)
            await self._stream.write(text)

    async def finish(self) -> None:
        if self._flush_timer is not None:
            self._flush_timer.stop()
        await self._flush()
        if self._stream is not None:
            await self._stream.stop()
            self._stream = None


class ThinkingBlock(Collapsible):
    """The model's reasoning, collapsed; the title says how long it is."""

    def __init__(self, text: str = "") -> None:
        self._text = text
        self._body = Static(Content(text), classes="thinking-text")
        super().__init__(self._body, title=self._heading(), collapsed=True, classes="block thinking")

    def _heading(self) -> str:
        return f"Thinking ({len(self._text.split())} words)"

    def append(self, text: str) -> None:
        self._text += text
        self._body.update(Content(self._text))
        self.title = self._heading()


class NoticeBlock(Static):
    """A line from the app itself: `info`, `warning` or `error`."""

    def __init__(self, text: str | Content, kind: str = "info") -> None:
        body = text if isinstance(text, Content) else Content(text)
        super().__init__(body, classes=f"block notice {kind}")


class LoadingBlock(Vertical):
    """A model being loaded: spinner, what is happening, a progress bar when one applies."""

    def __init__(self, label: str) -> None:
        super().__init__(classes="block loading")
        self._label = label

    def compose(self):
        with Vertical(classes="loading-line"):
            yield Spinner(classes="spinner")
            yield Static(Content(f"Loading {self._label}…"), classes="loading-label")
        yield ProgressBar(total=None, show_eta=True, classes="loading-bar")
        yield Static("", classes="loading-notes")

    def on_mount(self) -> None:
        self.query_one(ProgressBar).display = False  # until there is progress to show

    def take_update(self, text: str = "", done: int = 0, total: int = 0) -> None:
        """A note (when `text`) and progress (when `total`) from the loading thread."""
        if text:
            self.note(text)
        if total:
            self.progress(done, total)

    def note(self, text: str) -> None:
        notes = self.query_one(".loading-notes", Static)
        notes.update(Content(text))

    def progress(self, done: int, total: int) -> None:
        bar = self.query_one(ProgressBar)
        bar.display = True
        bar.update(total=total, progress=done)


class ToolBlock(Vertical, can_focus=True):
    """One tool call: what it is, a spinner and its time while it runs (with a command's
    output as it comes), then its result, folded to a few lines until expanded."""

    BINDINGS = [("enter,space", "toggle", "Expand")]

    def __init__(self, call: ToolCall) -> None:
        super().__init__(classes="block tool running")
        self.call = call
        self.expanded = False
        self._body = Content("")
        self._limit = OUTPUT_PREVIEW_LINES
        self._tail = False  # the preview shows the last lines (a command's) instead of the first
        self._started = time.monotonic()
        self._note = ""  # said before the running time ("approved")
        self._clock: Timer | None = None
        self._live = ""  # a running command's output so far (its last LIVE_CHARS)
        self._live_timer: Timer | None = None
        self._asked_diff: str | None = None  # the change the person was shown when asked

    def compose(self):
        with Vertical(classes="tool-head"):
            yield Spinner(classes="spinner")
            yield Static(self._headline(), classes="tool-title")
        yield Static("", classes="tool-status")
        body = Static("", classes="tool-body")
        body.display = False
        yield body

    def on_mount(self) -> None:
        if self.has_class("running"):
            self._clock = self.set_interval(1.0, self._tick)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # While an approval waits inside, Enter is the approval's (it shows the whole change).
        return action != "toggle" or not self.has_class("waiting")

    def _headline(self) -> Content:
        return call_headline(self.call)

    def _state(self, state: str, text: str | Content = "") -> None:
        self.set_classes(f"block tool {state}")
        self.refresh_bindings()
        self.query_one(".tool-status", Static).update(text)
        if not self.has_class("running") and not self.has_class("waiting") and self._clock:
            self._clock.stop()
            self._clock = None

    def _tick(self) -> None:
        """While it runs: how long it has been running."""
        if not self.has_class("running"):
            return
        took = elapsed(time.monotonic() - self._started)
        note = f"{self._note} · " if self._note else ""
        self.query_one(".tool-status", Static).update(Content.styled(f"{note}running {took}", "$text-muted"))

    def waiting(self, diff: str | None = None) -> None:
        """An approval box opened inside: it and the working line say what is awaited."""
        self._asked_diff = diff
        self._state("waiting")

    def resolved(self, approved: bool, note: str) -> None:
        if approved:
            self._started, self._note = time.monotonic(), "approved"
            self._state("running", Content.styled("approved", "$text-success"))
        else:
            why = f": {note}" if note else ""
            self._state("denied", Content.styled(f"denied{why}", "$text-error"))

    def take_output(self, text: str) -> None:
        """More output of the running command; shown (its end) at most every LIVE_SECONDS."""
        self._live = (self._live + text)[-LIVE_CHARS:]
        if self._live_timer is None:
            self._live_timer = self.set_timer(LIVE_SECONDS, self._show_live)

    def _show_live(self) -> None:
        self._live_timer = None
        if not self.has_class("running"):
            return  # the result is shown already
        shown = redact_credentials(_OVERWRITTEN.sub("", self._live.replace("\r\n", "\n")))
        self._body, self._tail = Content(shown.rstrip()), True
        self._show_body()

    def finish(self, event: ToolFinished) -> None:
        """Show the result: a diff for edits, output for commands (its end, where the summary is)."""
        text = without_exit_trailer(event.text.rstrip(), event.exit_code).rstrip()
        first, _, rest = text.partition("\n")
        summary = event.summary or first.removeprefix("Error: ")
        if first.removeprefix("Error: ").rstrip(".") == summary.rstrip("."):
            text = rest  # the status line says it already
        summary = _without_command(summary, self.call.arguments.get("command"))
        diff = event.diff or (text if text.startswith("--- ") else None)
        self._tail = False
        if diff:
            # The change just approved was read in full already: folded away, not repeated.
            seen = event.diff is not None and event.diff == self._asked_diff
            self._body, self._limit = diff_content(diff), 0 if seen else DIFF_PREVIEW_LINES
        elif event.name == "read_file" and not event.is_error:
            self._body = Content("")  # the model read it; people do not need the file again
        else:
            self._body, self._tail = Content(text), event.exit_code is not None
        self._state("error" if is_failure(event) else "done", status_line(event, summary))
        self._show_body()

    def _show_body(self) -> None:
        body = self.query_one(".tool-body", Static)
        body.display = bool(self._body.plain)
        body.update(preview(self._body, self._limit, self.expanded, self._tail))

    def action_toggle(self) -> None:
        self.expanded = not self.expanded
        self._show_body()

    def on_click(self) -> None:
        self.action_toggle()
