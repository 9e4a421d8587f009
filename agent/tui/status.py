"""The status bar and the "working" line above the input."""

from __future__ import annotations

from textual.containers import Horizontal
from textual.content import Content
from textual.reactive import reactive
from textual.widgets import Static

from gemma_code.agent.events import Usage

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


class StatusBar(Static):
    """Model and backend, context, speed, cache reuse, approval mode, git branch."""

    model = reactive("no model")
    backend = reactive("")
    context_size = reactive(0)
    usage: reactive[Usage | None] = reactive(None)
    mode = reactive("ask")
    workspace = reactive("")
    git = reactive("")

    def _segments(self, compact: bool) -> list[Content]:
        usage, size = self.usage, self.context_size
        model = self.model if compact or not self.backend else f"{self.model} · {self.backend}"
        used = usage.prompt_tokens + usage.completion_tokens if usage else 0
        parts = [Content.styled(model, "bold"),
                 Content(f"ctx {tokens(used)}/{tokens(size)}" if size else "ctx –")]
        if usage is not None:
            speed = (f"{rate(usage.prefill_tokens_per_second)}/{rate(usage.decode_tokens_per_second)} t/s"
                     if compact else f"prefill {rate(usage.prefill_tokens_per_second)} · "
                     f"decode {rate(usage.decode_tokens_per_second)} tok/s")
            share = 100 * usage.cached_tokens / usage.prompt_tokens if usage.prompt_tokens else 0
            parts += [Content(speed), Content(f"cache {share:.0f}%")]
        parts.append(Content.styled(self.mode, MODE_STYLES.get(self.mode, "")))
        where = self.workspace + (f" {self.git}" if self.git else "")
        if where:
            parts.append(Content(where))
        return parts

    def render(self) -> Content:
        line = SEPARATOR.join(self._segments(compact=False))
        if line.cell_length > self.size.width:
            line = SEPARATOR.join(self._segments(compact=True))
        return line


class WorkingLine(Horizontal):
    """Shown while a turn runs: a spinner, or a still line while an approval waits."""

    def compose(self):
        yield Spinner(classes="spinner")
        yield Static("", classes="working-text")

    def show(self, text: str, spinning: bool = True) -> None:
        self.display = True
        self.query_one(Spinner).display = spinning
        self.query_one(".working-text", Static).update(Content.styled(text, "$text-muted"))

    def hide(self) -> None:
        self.display = False
