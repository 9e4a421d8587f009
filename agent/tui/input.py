"""The input box: multi-line editing, history, `/command` and `@path` completion, pastes."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from textual import events
from textual.binding import Binding
from textual.content import Content
from textual.message import Message
from textual.widgets import OptionList, TextArea
from textual.widgets.option_list import Option

from gemma_code.agent.workspace import LocalWorkspace

MAX_SUGGESTIONS = 8
NEWLINE_KEYS = ("ctrl+j", "shift+enter", "alt+enter")
# A paste of more lines or characters than these shows as one placeholder, `[pasted 120 lines]`;
# the model gets the text itself.
PASTE_LINES = 10
PASTE_CHARS = 2_000


@dataclass(frozen=True)
class Suggestion:
    """One completion: show `label`, put `text` in place of characters `start:end` of the line."""

    label: str
    text: str
    start: int
    end: int
    help: str = ""


# (the text before the cursor on its line) -> suggestions
Completer = Callable[[str], list[Suggestion]]
# (pasted text) -> whether it was taken (as dropped image files) instead of inserted
PasteFilter = Callable[[str], Awaitable[bool]]


def list_files(root: Path, limit: int = 20_000) -> list[str]:
    """The repository's files as `/`-separated relative paths, gitignore respected."""
    workspace = LocalWorkspace(root)
    return [p.relative_to(workspace.root).as_posix() for p in workspace.files()[:limit]]


def file_suggestions(before: str, files: Sequence[str]) -> list[Suggestion]:
    """Files matching the `@word` that ends `before`: path prefix first, then substrings."""
    match = re.search(r"(?<!\S)@(\S*)$", before)
    if match is None:
        return []
    typed = match.group(1).lower()
    starts = [f for f in files if f.lower().startswith(typed) or Path(f).name.lower().startswith(typed)]
    inside = [f for f in files if typed in f.lower() and f not in starts]
    return [
        Suggestion(label=f"@{f}", text=f"@{f} ", start=match.start(), end=len(before))
        for f in (starts + inside)[:MAX_SUGGESTIONS]
    ]


class History:
    """Sent messages, walked with up/down; the unsent draft comes back at the end."""

    def __init__(self) -> None:
        self.entries: list[str] = []
        self._index = 0
        self._draft = ""

    def add(self, text: str) -> None:
        if text and (not self.entries or self.entries[-1] != text):
            self.entries.append(text)
        self._index = len(self.entries)

    def back(self, current: str) -> str | None:
        if self._index == 0:
            return None
        if self._index == len(self.entries):
            self._draft = current
        self._index -= 1
        return self.entries[self._index]

    def forward(self) -> str | None:
        if self._index >= len(self.entries):
            return None
        self._index += 1
        return self._draft if self._index == len(self.entries) else self.entries[self._index]


class PromptInput(TextArea):
    """Enter sends; Ctrl+J (or Shift+Enter where the terminal tells it apart) adds a line."""

    BINDINGS = [  # the input is a few lines high: these keys scroll the conversation instead
        Binding("pageup", "app.transcript_page(-1)", "Scroll up", show=False),
        Binding("pagedown", "app.transcript_page(1)", "Scroll down", show=False),
    ]

    class Submitted(Message):
        def __init__(self, text: str) -> None:
            self.text = text
            super().__init__()

    class ClipboardImageWanted(Message):
        """Ctrl+V: attach the system clipboard's image."""

    def __init__(self, menu: OptionList, completer: Completer,
                 paste_filter: PasteFilter | None = None, **kwargs) -> None:
        super().__init__(soft_wrap=True, show_line_numbers=False, compact=True, **kwargs)
        self.menu = menu
        self.completer = completer
        self.paste_filter = paste_filter
        self.can_send_empty: Callable[[], bool] = lambda: False  # when images are attached
        self.sent = History()
        self.pastes: dict[str, str] = {}  # placeholder -> the big paste it stands for
        self._suggestions: list[Suggestion] = []
        self._suggested_for = ""  # the text before the cursor the suggestions were made for
        self._recalled = False  # text from history: no menu until the person types

    # --- completion menu --------------------------------------------------------------

    def _line_before_cursor(self) -> str:
        row, column = self.cursor_location
        return self.document.get_line(row)[:column]

    def refresh_suggestions(self) -> None:
        self._suggested_for = self._line_before_cursor()
        self._suggestions = self.completer(self._suggested_for)
        self.menu.clear_options()
        if self._suggestions:
            self.menu.add_options(  # Content, not markup: `pages/[id].tsx` is a file name
                Option(Content.assemble(s.label, (f"  {s.help}" if s.help else "", "$text-muted")))
                for s in self._suggestions
            )
            self.menu.highlighted = 0
        self.menu.display = bool(self._suggestions)

    def hide_suggestions(self) -> None:
        self._suggestions = []
        self.menu.display = False

    @property
    def suggesting(self) -> bool:
        return bool(self._suggestions) and self.menu.display

    def accept_suggestion(self) -> Suggestion:
        chosen = self._suggestions[self.menu.highlighted or 0]
        row, _ = self.cursor_location
        self.replace(chosen.text, (row, chosen.start), (row, chosen.end))
        self.hide_suggestions()
        return chosen

    def _on_text_area_changed(self, event: TextArea.Changed) -> None:
        if self._recalled:
            self._recalled = False
            self.hide_suggestions()
        else:
            self.refresh_suggestions()

    # --- keys -------------------------------------------------------------------------

    def _typed_in_full(self) -> bool:
        """Whether what is typed already is one of the suggestions (`auto`, not `auto-edit`)."""
        before = self._line_before_cursor()
        return any(before[s.start:] == s.text.rstrip() for s in self._suggestions)

    def _menu_key(self, key: str) -> bool:
        """Keys the completion menu takes while it is open."""
        if key in ("up", "down"):
            step = -1 if key == "up" else 1
            count = len(self._suggestions)
            self.menu.highlighted = ((self.menu.highlighted or 0) + step) % count
        elif key == "tab":
            self.accept_suggestion()
        elif key == "enter" and self._typed_in_full():
            self.submit()
        elif key == "enter":
            chosen = self.accept_suggestion()
            if not chosen.text.endswith((" ", "/")):  # a folder: its contents come next
                self.submit()
        elif key == "escape":
            self.hide_suggestions()
        else:
            return False
        return True

    def _history_key(self, key: str) -> bool:
        row, _ = self.cursor_location
        if key == "up" and row == 0:
            text = self.sent.back(self.text)
        elif key == "down" and row == self.document.line_count - 1:
            text = self.sent.forward()
        else:
            return False
        if text is not None:
            self._recalled = True
            self.load_text(text)
            self.move_cursor(self.document.end)
            self.hide_suggestions()
        return True

    async def _on_key(self, event: events.Key) -> None:
        key = event.key
        if key in ("enter", "tab") and self.menu.display and (
            self._suggested_for != self._line_before_cursor()
        ):
            # Suggestions follow `Changed` messages, which queue behind keys typed fast (a
            # paste of keys, tmux send-keys): recompute them for the text as it is now.
            self.refresh_suggestions()
        if self.suggesting and self._menu_key(key):
            handled = True
        elif key == "enter":
            self.submit()
            handled = True
        elif key in NEWLINE_KEYS:
            self.insert("\n")
            handled = True
        else:
            handled = self._history_key(key)
        if handled:
            event.stop()
            event.prevent_default()

    async def _on_paste(self, event: events.Paste) -> None:
        # Runs before TextArea's handler, which inserts the text unless the default is prevented.
        if (self.paste_filter is not None and await self.paste_filter(event.text)) or self._collapse(event.text):
            event.stop()
            event.prevent_default()

    def _collapse(self, text: str) -> bool:
        """Put a big paste in as `[pasted 1,000 lines]`; `expand_pastes` gives the text back."""
        lines = len(text.splitlines())
        if lines <= PASTE_LINES and len(text) <= PASTE_CHARS:
            return False
        label = f"[pasted {lines:,} lines]" if lines > 1 else f"[pasted {len(text):,} characters]"
        if label in self.pastes and self.pastes[label] != text:
            label = f"{label[:-1]} #{len(self.pastes) + 1}]"
        self.pastes[label] = text
        self.insert(label)
        return True

    def expand_pastes(self, text: str) -> str:
        """The message with each paste placeholder replaced by what was pasted."""
        for label, pasted in self.pastes.items():
            text = text.replace(label, pasted)
        return text

    def action_paste(self) -> None:
        """Ctrl+V: the clipboard's image (terminals paste text themselves, as a Paste event)."""
        self.post_message(self.ClipboardImageWanted())

    def paste_local(self) -> None:
        """Paste the text cut inside the app (Ctrl+V without an image on the clipboard)."""
        super().action_paste()

    def submit(self) -> None:
        text = self.text.strip()
        if not text and not self.can_send_empty():
            return
        self.sent.add(text)
        self.clear()
        self.hide_suggestions()
        self.post_message(self.Submitted(text))
