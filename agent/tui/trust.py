"""The trust prompt at start: a project's own settings that lower safety, taken only on a yes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from gemma_code.agent.trust import TrustOffer

if TYPE_CHECKING:
    from .app import GemmaCodeApp


class TrustScreen(ModalScreen[bool]):
    """Names the settings and values; dismisses with True (trust) or False (ignore them)."""

    DEFAULT_CSS = """
    TrustScreen { align: center middle; }
    #trust { width: 90%; max-width: 100; height: auto; padding: 1 2;
             border: thick $warning; background: $surface; }
    #trust .trust-settings { margin: 1 0; color: $text-accent; }
    #trust Horizontal { height: auto; margin-top: 1; }
    #trust Button { margin-right: 2; }
    """
    BINDINGS = [
        Binding("y", "answer(True)", "Trust"),
        Binding("n,escape", "answer(False)", "Ignore them"),
    ]

    def __init__(self, offer: TrustOffer) -> None:
        super().__init__()
        self.offer = offer

    def compose(self):
        project = self.offer.project
        names = project.names if project else "this project"
        settings = "\n".join(f"  {item.shown()}" for item in self.offer.ignored)
        changed = " It changed since you trusted it." if project and project.state == "changed" else ""
        with Vertical(id="trust"):
            yield Static(Content.styled(f"⚠ {names} lowers gemma-code's safety", "bold $text-warning"))
            yield Static(Content(settings), classes="trust-settings")
            yield Static(Content(
                f"A file in the workspace can be written by anyone who wrote the repository, "
                f"or by the agent.{changed} Trusted, these apply until the file changes; "
                "ignored, the safe values apply."
            ))
            with Horizontal():
                yield Button("y trust them", id="trust-yes", variant="warning", compact=True)
                yield Button("n ignore them", id="trust-no", variant="primary", compact=True)

    def on_mount(self) -> None:
        self.query_one("#trust-no", Button).focus()  # Enter alone never trusts

    def action_answer(self, trusted: bool) -> None:
        self.dismiss(trusted)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "trust-yes")


def start_model(app: GemmaCodeApp, offer: TrustOffer | None) -> None:
    """Load the model, first asking about the project's settings when there is something to ask,
    so that the model and session start with the settings the answer picks."""
    if offer is None or offer.settings is None:
        for line in offer.notices if offer else ():
            app.call_later(app.say, line, "warning")
        app.load_model(app.lifecycle.settings)
        return

    async def answered(trusted: bool | None) -> None:
        if trusted and offer.settings is not None:
            try:
                offer.accept()
            except (OSError, ValueError) as exc:
                await app.say(f"could not remember the trust: {exc}; the settings apply this time", "error")
            app.lifecycle.settings = offer.settings
            app.set_mode(offer.settings.approval)
            names = ", ".join(item.shown() for item in offer.ignored)
            await app.say(f"trusted this project's settings: {names}", "warning")
        else:
            for line in offer.notices:
                await app.say(line, "warning")
        app.load_model(app.lifecycle.settings)

    app.push_screen(TrustScreen(offer), answered)
