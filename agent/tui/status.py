"""The status bar and the "working" line above the input."""

from __future__ import annotations

import time

from textual.containers import Horizontal
from textual.content import Content
from textual.reactive import reactive
from textual.timer import Timer
from textual.widgets import Static

from gemma_code.agent.events import ReasoningDelta, TextDelta, Usage

from .render import elapsed
from .widgets import Spinner

SEPARATOR = Content.styled(" │ ", "$text-muted")
MODE_STYLES = {"read-only": "$text-success", "ask": "$text-primary",
               "auto-edit": "$text-warning", "auto": "bold $text-error"}


def tokens(n: int) -> str:
    """1234 -> 1.2k; 32768 -> 33k."""
    if n < 1000:
        return str(n)
    return f"{n / 1000:.1f}k" if n < 10_000 else f"{n / 1000:.0f}k"


def rate(value: float) -> str:
    return f"{value:.0f}" if value > 0 else "–"


CONTEXT_WARN = 0.8  # of the context used: the figure turns the warning colour
CONTEXT_FULL = 0.95  # and then the error colour; at the limit the turn stops


def context_segment(used: int, size: int, estimated: bool = False, compact: bool = False) -> Content:
    """`ctx 12k/33k`; near the limit coloured, and saying what happens at it."""
    if not size:
        return Content("ctx –")
    text = f"ctx {'~' if estimated else ''}{tokens(used)}/{tokens(size)}"
    share = used / size
    if share < CONTEXT_WARN:
        return Content(text)
    style = "bold $text-error" if share >= CONTEXT_FULL else "bold $text-warning"
    if not compact:
        text += f" {100 * share:.0f}%: when full the turn stops (/clear)"
    return Content.styled(text, style)


class StatusBar(Static):
    """Model and backend, context, speed, cache reuse, approval mode, git branch."""

    model = reactive("no model")
    backend = reactive("")
    context_size = reactive(0)
    usage: reactive[Usage | None] = reactive(None)
    restored = reactive(0)  # tokens of a resumed conversation, estimated (until a step's usage)
    mode = reactive("ask")
    workspace = reactive("")
    git = reactive("")

    def _segments(self, compact: bool, explain: bool, figures: bool) -> list[Content]:
        usage, size = self.usage, self.context_size
        model = self.model if compact or not self.backend else f"{self.model} · {self.backend}"
        used = (usage.prompt_tokens or 0) + (usage.completion_tokens or 0) if usage else self.restored
        unreported = usage is not None and usage.prompt_tokens is None  # the server did not say
        parts = [Content.styled(model, "bold"),
                 Content(f"ctx –/{tokens(size)}") if unreported and size else
                 context_segment(used, size, usage is None and bool(used), not explain)]
        if usage is not None and figures:
            speed = (f"{rate(usage.prefill_tokens_per_second)}/{rate(usage.decode_tokens_per_second)} t/s"
                     if compact else f"prefill {rate(usage.prefill_tokens_per_second)} · "
                     f"decode {rate(usage.decode_tokens_per_second)} tok/s")
            share = cache_share(usage.cached_tokens, usage.prompt_tokens)
            parts += [Content(speed), Content(f"cache {share}")]
        parts.append(Content.styled(self.mode, MODE_STYLES.get(self.mode, "")))
        where = self.workspace + (f" {self.git}" if self.git else "")
        if where:
            parts.append(Content(where))
        return parts

    def render(self) -> Content:
        # The longest form that fits; when none does, the shortest, whose end (the mode and
        # the branch) the ellipsis may cut last. A context warning outranks the speed figures.
        forms = [(False, True, True), (True, True, True), (True, True, False), (True, False, False)]
        for compact, explain, figures in forms:
            line = SEPARATOR.join(self._segments(compact, explain, figures))
            if line.cell_length <= self.content_size.width:
                break
        return line


def cache_share(cached: int | None, prompt: int | None) -> str:
    """The prompt's share read from cache, or `n/a` where the backend did not report it."""
    if cached is None or prompt is None:
        return "n/a"
    return f"{100 * cached / prompt:.0f}%" if prompt else "0%"


class WorkingLine(Horizontal):
    """Shown while a turn runs: a spinner, how long the turn has run and the tokens the
    model wrote in it; a still line while an approval waits."""

    _text, _counting, _started, _done_tokens, _step_tokens = "", False, 0.0, 0, 0
    _clock: Timer | None = None

    def compose(self):
        yield Spinner(classes="spinner")
        yield Static("", classes="working-text")

    def on_mount(self) -> None:
        self._clock = self.set_interval(1.0, self._render_text, pause=True)

    def _run_clock(self, running: bool) -> None:
        if self._clock is not None and running:
            self._clock.resume()
        elif self._clock is not None:
            self._clock.pause()

    def start(self) -> None:
        """A turn begins: the clock and the token count start from zero."""
        self._started, self._done_tokens, self._step_tokens = time.monotonic(), 0, 0
        self.working()

    def working(self, text: str = "working…") -> None:
        self._text, self._counting = text, True
        self._show(spinning=True)
        self._run_clock(True)

    def show(self, text: str, spinning: bool = True) -> None:
        """A fixed line (an approval waits, an interrupt is under way)."""
        self._text, self._counting = text, False
        self._run_clock(False)
        self._show(spinning)

    def count(self, event: object) -> None:
        """Tokens as they stream (a delta is about one), settled by each step's usage."""
        if isinstance(event, (TextDelta, ReasoningDelta)):
            self._step_tokens += 1
        elif isinstance(event, Usage):
            counted = event.completion_tokens
            self._done_tokens += self._step_tokens if counted is None else counted
            self._step_tokens = 0

    @property
    def line(self) -> str:
        if not self._counting:
            return self._text
        written = self._done_tokens + self._step_tokens
        return (f"{self._text} {elapsed(time.monotonic() - self._started)} · "
                f"{tokens(written)} tokens · Esc interrupts")

    def _render_text(self) -> None:
        self.query_one(".working-text", Static).update(Content.styled(self.line, "$text-muted"))

    def _show(self, spinning: bool) -> None:
        self.display = True
        self.query_one(Spinner).display = spinning
        self._render_text()

    def hide(self) -> None:
        self.display = False
        self._run_clock(False)
