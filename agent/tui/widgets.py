"""Transcript blocks: user message, assistant markdown, thinking, tool calls, notices."""

from __future__ import annotations

from textual.containers import Vertical
from textual.timer import Timer
from textual.content import Content
from textual.widgets import Collapsible, Markdown, ProgressBar, Static
from textual.widgets.markdown import MarkdownStream

from gemma_code.agent.events import ToolFinished
from gemma_code.agent.headless import short_arguments
from gemma_code.agent.messages import ToolCall

OUTPUT_PREVIEW_LINES = 5
DIFF_PREVIEW_LINES = 12
SPINNER_FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


def diff_content(diff: str) -> Content:
    """A unified diff coloured with the theme's success/error/accent text colours."""
    parts: list[tuple[str, str] | str] = []
    for line in diff.splitlines(keepends=True):
        if line.startswith(("+++", "---")):
            parts.append((line, "bold"))
        elif line.startswith("+"):
            parts.append((line, "$text-success"))
        elif line.startswith("-"):
            parts.append((line, "$text-error"))
        elif line.startswith("@@"):
            parts.append((line, "$text-accent"))
        else:
            parts.append(line)
    return Content.assemble(*parts).rstrip()


def preview(body: Content, limit: int, expanded: bool) -> Content:
    """The first `limit` lines of `body` and a hint naming how many more there are."""
    lines = body.split("\n")
    if expanded or len(lines) <= limit + 1:
        return body
    more = len(lines) - limit
    hint = Content.styled(f"… {more} more lines (Enter or click expands)", "$text-muted italic")
    return Content("\n").join([*lines[:limit], hint])


class Spinner(Static):
    """A one-cell spinner that turns while it is on screen.

    Each turn redraws the screen: a hidden spinner (every finished tool's, the working line's
    between turns) kept doing so ten times a second, taking CPU from the model's threads."""

    def on_mount(self) -> None:
        self._frame = 0
        self.update(SPINNER_FRAMES[0])
        self._timer = self.set_interval(0.1, self._turn, pause=True)

    def on_show(self) -> None:
        self._timer.resume()

    def on_hide(self) -> None:
        self._timer.pause()

    def _turn(self) -> None:
        self._frame = (self._frame + 1) % len(SPINNER_FRAMES)
        self.update(SPINNER_FRAMES[self._frame], layout=False)  # one cell: no layout needed


class UserBlock(Static):
    """What the person sent, with the files attached through `@path`."""

    def __init__(self, text: str, attached: list[str] | tuple[str, ...] = ()) -> None:
        body = Content.assemble(("› ", "bold $text-primary"), text)
        if attached:
            body = body.append(Content.styled("\nattached: " + ", ".join(attached), "$text-muted"))
        super().__init__(body, classes="block user")


class AssistantBlock(Markdown):
    """The assistant's answer; streamed as it is generated, `FLUSH_SECONDS` apart at most."""

    # Markdown re-parses and lays out its last block on every update: once a token, that took
    # CPU from the model's threads on a small machine. Ten updates a second read as smoothly.
    FLUSH_SECONDS = 0.1

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
    """One tool call: what it is, a spinner while it runs, its result collapsed."""

    BINDINGS = [("enter,space", "toggle", "Expand")]

    def __init__(self, call: ToolCall) -> None:
        super().__init__(classes="block tool running")
        self.call = call
        self.expanded = False
        self._body = Content("")
        self._limit = OUTPUT_PREVIEW_LINES

    def compose(self):
        with Vertical(classes="tool-head"):
            yield Spinner(classes="spinner")
            yield Static(self._headline(), classes="tool-title")
        yield Static("", classes="tool-status")
        body = Static("", classes="tool-body")
        body.display = False
        yield body

    def _headline(self) -> Content:
        name = self.call.name
        if name == "run_shell" and "command" in self.call.arguments:
            command = str(self.call.arguments["command"]).replace("\n", "⏎")
            return Content.assemble((name, "bold"), " ", ("$ " + command, "$text-accent"))
        return Content.assemble((name, "bold"), " ", (short_arguments(self.call, 40), "$text-muted"))

    def _state(self, state: str, text: str | Content = "") -> None:
        self.set_classes(f"block tool {state}")
        self.query_one(".tool-status", Static).update(text)

    def waiting(self) -> None:
        self._state("waiting", Content.styled("waiting for your approval", "$text-warning"))

    def resolved(self, approved: bool, note: str) -> None:
        if approved:
            self._state("running", Content.styled("approved", "$text-success"))
        else:
            why = f": {note}" if note else ""
            self._state("denied", Content.styled(f"denied{why}", "$text-error"))

    def finish(self, event: ToolFinished) -> None:
        """Show the result: a diff for edits, exit code and output for shell calls."""
        text = event.text.rstrip()
        first, _, rest = text.partition("\n")
        summary = event.summary or first.removeprefix("Error: ")
        if first.removeprefix("Error: ").rstrip(".") == summary.rstrip("."):
            text = rest  # the status line says it already
        mark, style = ("✗", "$text-error") if event.is_error else ("✓", "$text-success")
        status = Content.assemble((f"{mark} ", style), summary)
        if event.exit_code is not None and not event.is_error:
            status = Content.assemble((f"{mark} ", style), f"exit code {event.exit_code} · ", summary)
        diff = event.diff or (text if text.startswith("--- ") else None)
        if diff:
            self._body, self._limit = diff_content(diff), DIFF_PREVIEW_LINES
        elif event.name == "read_file" and not event.is_error:
            self._body = Content("")  # the model read it; people do not need the file again
        else:
            self._body = Content(text)
        self._state("error" if event.is_error else "done", status)
        self._show_body()

    def _show_body(self) -> None:
        body = self.query_one(".tool-body", Static)
        body.display = bool(self._body.plain)
        body.update(preview(self._body, self._limit, self.expanded))

    def action_toggle(self) -> None:
        self.expanded = not self.expanded
        self._show_body()

    def on_click(self) -> None:
        self.action_toggle()
