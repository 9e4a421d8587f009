"""`/resume` without an id: a list of this workspace's saved sessions to pick one from."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from gemma_code.agent.sessions import SessionInfo

from .history import user_display


def when(created: str) -> str:
    """`2026-12-07 14:05` in local time, from the ISO time a session was made."""
    try:
        return datetime.fromisoformat(created).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return created


def session_label(info: SessionInfo, current: str | None) -> Content:
    title = user_display(info.title).split("\n", 1)[0] or "(empty)"
    this = "  (this one)" if info.id == current else ""
    return Content.assemble((when(info.created), "$text-muted"), "  ", (title, "bold"),
                            (f"  {Path(info.model).name} · {info.id}{this}", "$text-muted"))


class SessionPicker(ModalScreen[str | None]):
    """Up/Down and Enter pick a session; Esc keeps the current one."""

    BINDINGS = [Binding("escape", "dismiss_none", "Cancel")]

    def __init__(self, infos: list[SessionInfo], current: str | None) -> None:
        super().__init__()
        self.infos, self.current = infos, current

    def compose(self):
        with Vertical(id="picker"):
            yield Static(Content.styled("Resume a session (Enter picks, Esc cancels)", "bold $text-primary"))
            yield OptionList(*(Option(session_label(i, self.current), id=i.id) for i in self.infos))

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
