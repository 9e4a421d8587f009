"""The gemma-code Textual app: transcript, input, status bar; the agent runs in a thread."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

from textual import on, work
from textual.app import App
from textual.binding import Binding
from textual.content import Content
from textual.widgets import Footer, OptionList

from gemma_code.agent.config import Settings
from gemma_code.agent.events import ApprovalNeeded, ApprovalResolved, ToolFinished, Usage
from gemma_code.agent.messages import Message as ChatMessage
from gemma_code.agent.messages import UserMessage
from gemma_code.agent.protocols import Backend
from gemma_code.agent.session import Session
from gemma_code.agent.sessions import SessionFile, SessionNotFound, SessionStore

from .approval import ApprovalPrompt
from .attach import AttachmentBar, ImageSource
from .commands import MODES, HelpScreen, complete_command, run_command
from .input import PromptInput, Suggestion, expand_mentions, file_suggestions, list_files
from .messages import AgentEventPosted, LoadReporter, LoadUpdate, ModelLoaded, TurnEnded
from .runtime import (
    BackendOpener, QueueApprover, git_state, model_label, open_backend_with_progress, pick_theme,
)
from .status import StatusBar, WorkingLine
from .transcript import Transcript, user_display
from .widgets import LoadingBlock, NoticeBlock, ToolBlock, UserBlock

MODE_HELP = {
    "read-only": "no edits and no commands",
    "ask": "asks before every edit and command",
    "auto-edit": "edits without asking, asks before commands",
    "auto": "runs edits and commands without asking",
}
QUIT_WINDOW = 2.0  # seconds in which a second Ctrl+C quits
IMAGES_ONLY_TEXT = "See the attached image."  # what is sent when only images were given


class GemmaCodeApp(App[None]):
    """A terminal coding assistant: one session, one model, one workspace."""

    CSS_PATH = "app.tcss"
    TITLE = "gemma-code"
    BINDINGS = [
        Binding("escape", "interrupt", "Interrupt"),
        Binding("ctrl+c", "ctrl_c", "Quit", priority=True),
        Binding("shift+tab", "cycle_mode", "Mode", priority=True),
        Binding("ctrl+o", "toggle_last", "Expand"),
        Binding("f1", "help", "Help"),
    ]

    def __init__(
        self,
        settings: Settings,
        root: Path,
        *,
        open_backend: BackendOpener | None = None,
        store: SessionStore | None = None,
        resume: str | None = None,
        theme: str | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.root = Path(root).resolve()
        self.open_backend = open_backend or open_backend_with_progress
        self.store = store
        self.resume_id = resume
        chosen = theme or pick_theme()
        self.theme = chosen if chosen in self.available_themes else "textual-dark"
        self.approver = QueueApprover()
        self.mode: str = settings.approval
        self.session: Session | None = None
        self.files: list[str] = []
        self.running = False
        self.idle = threading.Event()
        self.idle.set()
        self._saved: SessionFile | None = None
        self._history: list[ChatMessage] | None = None
        self._loading: LoadingBlock | None = None
        self._pending: str | None = None
        self._last_ctrl_c = 0.0

    # --- layout -----------------------------------------------------------------------

    def compose(self):
        yield Transcript(self.root, id="transcript")
        yield WorkingLine(id="working")
        menu = OptionList(id="menu")
        yield menu
        yield AttachmentBar(id="attachments")
        yield PromptInput(menu, self._complete, self._pasted, id="prompt")
        yield StatusBar(id="status")
        yield Footer()

    @property
    def transcript(self) -> Transcript:
        return self.query_one(Transcript)

    @property
    def prompt(self) -> PromptInput:
        return self.query_one(PromptInput)

    @property
    def status(self) -> StatusBar:
        return self.query_one(StatusBar)

    @property
    def attachments(self) -> AttachmentBar:
        return self.query_one(AttachmentBar)

    async def on_mount(self) -> None:
        self.query_one("#menu").display = False
        self.query_one(WorkingLine).hide()
        self.status.mode = self.mode
        self.status.workspace = self.root.name
        self.status.model = model_label(self.settings, None)
        self.prompt.border_title = "message · Enter sends · Ctrl+J new line · / commands · @ files"
        self.prompt.can_send_empty = lambda: bool(self.attachments.pending)
        await self.say(Content.assemble(
            ("gemma-code", "bold $text-primary"), f" in {self.root.name}. ",
            "Ask for a change, or type / for commands and @ to attach a file. F1: help.",
        ))
        if self.resume_id:
            await self.resume_session(self.resume_id)
        self.load_model(self.settings)
        self.refresh_workspace()
        self.prompt.focus()

    async def say(self, text: str | Content, kind: str = "info") -> None:
        await self.transcript.add(NoticeBlock(text, kind))

    def _complete(self, before: str) -> list[Suggestion]:
        if before.startswith("/"):
            return complete_command(self, before)
        return file_suggestions(before, self.files)

    # --- the model --------------------------------------------------------------------

    @work(thread=True, group="load", exit_on_error=False)
    def load_model(self, settings: Settings) -> None:
        self.call_from_thread(self._show_loading, settings)
        try:
            backend = self.open_backend(settings, LoadReporter(self))
        except Exception as exc:  # noqa: BLE001 - any failure is shown, the app stays usable
            self.post_message(ModelLoaded(settings, None, exc))
        else:
            if not self.post_message(ModelLoaded(settings, backend, None)):
                backend.close()  # the app closed while the model loaded

    async def _show_loading(self, settings: Settings) -> None:
        self._loading = LoadingBlock(model_label(settings, None))
        await self.transcript.add(self._loading)
        self._loading.query_one(".loading-bar").display = False

    def on_load_update(self, message: LoadUpdate) -> None:
        if self._loading is None:
            return
        if message.text:
            self._loading.note(message.text)
        if message.total:
            self._loading.progress(message.done, message.total)

    async def on_model_loaded(self, message: ModelLoaded) -> None:
        if self._loading is not None:
            await self._loading.remove()
            self._loading = None
        label = model_label(message.settings, message.backend)
        if message.backend is None:
            if self.session is None:
                self.status.model = f"{label} (not loaded)"
            await self._load_failed(label, message.error)
            return
        old = self.session
        history = old.agent.messages if old else self._history
        saved = old.saved if old else self._saved
        self.settings = message.settings
        self.session = self._make_session(message.backend, saved, history)
        if old is not None:
            old.backend.close()
        self.status.model, self.status.backend = label, message.backend.name
        self.status.context_size, self.status.usage = message.backend.context_size, None
        await self.say(f"model ready: {label} ({message.backend.name}, context {message.backend.context_size})")
        if old is not None and old.backend.vision != message.backend.vision and self.attachments.pending:
            await self.say("the attached images were prepared for the previous model, which "
                           f"{'saw' if old.backend.vision else 'could not see'} images; "
                           "/image clear and attach them again", "warning")
        if self._pending is not None:
            text, self._pending = self._pending, None
            await self._start_turn(text, shown=True)

    async def _load_failed(self, label: str, error: Exception | None) -> None:
        reason = str(error) or type(error).__name__
        if type(error).__module__ == "builtins":
            reason = f"{type(error).__name__}: {reason}"
        await self.say(f"could not load {label}: {reason}", "error")
        await self.say("Switch with /model NAME (/model lists the models and which are here).", "warning")
        if self._pending is not None:
            self.prompt.load_text(self._pending)
            self._pending = None

    def _make_session(
        self, backend: Backend, saved: SessionFile | None, history: list[ChatMessage] | None
    ) -> Session:
        session = Session(self.settings, backend, self.root, self.approver, saved, history)
        session.agent.tools.mode = self.mode
        if self.session is not None:  # "always" answers hold for as long as the app runs
            session.agent.tools.keep_approvals_of(self.session.agent.tools)
        self.approver.cancel = session.cancel
        return session

    async def switch_model(self, name: str) -> None:
        if await self._refuse_while_running():
            return
        if self._loading is not None:
            await self.say("a model is loading already; switch when it is ready", "error")
            return
        self.load_model(self.settings.model_copy(update={"model": name}))

    # --- turns ------------------------------------------------------------------------

    @on(PromptInput.Submitted)
    async def _submitted(self, message: PromptInput.Submitted) -> None:
        text = message.text
        if text.startswith("/"):
            await run_command(self, text)
        elif self.running:
            self.prompt.load_text(text)
            await self.say("still working on the last message; Esc interrupts it", "warning")
        elif reading := self.attachments.pending.reading:
            self.prompt.load_text(text)
            await self.say(f"still reading {', '.join(reading)}; send when it is attached", "warning")
        else:
            await self._start_turn(text)

    async def _start_turn(self, text: str, shown: bool = False) -> None:
        ready = self.attachments.pending.ready
        if not text and ready:
            text = IMAGES_ONLY_TEXT
        expanded = expand_mentions(text, self.root)
        expanded.attached.extend(a.name for a in ready)
        if self.session is None:
            if self._loading is None:
                self.prompt.load_text(text)
                await self.say("no model is loaded; /model NAME loads one", "error")
                return
            self._pending = text
            await self.transcript.add(UserBlock(text, expanded.attached))
            await self.say("the model is still loading; the message goes when it is ready")
            return
        if not shown:
            await self.transcript.add(UserBlock(text, expanded.attached))
        for problem in expanded.problems:
            await self.say(problem, "warning")
        if self.session.saved is None and self.store is not None:
            self.session.saved = self.store.create(self.root, self.settings.model)
        self.transcript.anchor()
        self.running = True
        self.idle.clear()
        self.approver.reset()
        self.query_one(WorkingLine).show("working… Esc interrupts")
        self.run_turn(self.session, UserMessage.of(expanded.text, self.attachments.pending.parts()))
        self.attachments.clear()

    @work(thread=True, group="turn", exit_on_error=False)
    def run_turn(self, session: Session, user: UserMessage) -> None:
        error = None
        try:
            for event in session.run(user):
                self.post_message(AgentEventPosted(event))
        except Exception as exc:  # noqa: BLE001 - shown in the transcript; the app stays up
            error = exc
        finally:
            self.post_message(TurnEnded(error))
            self.idle.set()

    async def on_agent_event_posted(self, message: AgentEventPosted) -> None:
        event = message.event
        await self.transcript.show(event)
        working = self.query_one(WorkingLine)
        if isinstance(event, Usage):
            self.status.usage = event
        elif isinstance(event, ToolFinished):
            self.refresh_workspace()  # an edit or a command may have changed the tree
        elif isinstance(event, ApprovalNeeded):
            working.show("waiting for your approval: y once · a always · n deny", spinning=False)
        elif isinstance(event, ApprovalResolved) and self.running:
            working.show("working… Esc interrupts")
            self.prompt.focus()

    async def on_turn_ended(self, message: TurnEnded) -> None:
        self.running = False
        self.query_one(WorkingLine).hide()
        await self.transcript.end_text()
        for prompt in self.transcript.pending_prompts():
            prompt.answered = True
            await prompt.remove()
        if message.error is not None:
            error = message.error
            await self.say(f"the turn failed: {type(error).__name__}: {error}", "error")
        self.refresh_workspace()
        if not isinstance(self.focused, ApprovalPrompt):
            self.prompt.focus()

    def on_approval_prompt_answered(self, message: ApprovalPrompt.Answered) -> None:
        self.approver.answer(message.decision)
        self.prompt.focus()

    @work(thread=True, group="workspace", exclusive=True, exit_on_error=False)
    def refresh_workspace(self) -> None:
        state = git_state(self.root)
        files = list_files(self.root)
        self.call_from_thread(self._set_workspace, state, files)

    def _set_workspace(self, state: str, files: list[str]) -> None:
        self.status.git, self.files = state, files

    # --- images -----------------------------------------------------------------------

    async def _attach(self, name: str, source: ImageSource, tag: str = "") -> None:
        if self.session is None:
            await self.say(f"cannot attach {name}: no model is loaded yet (attaching needs to "
                           "know whether it sees images)", "error")
            return
        self.attachments.attach(self.session, name, source, tag)

    async def attach_files(self, paths: list[Path]) -> None:
        for path in paths:
            await self._attach(path.name, lambda path=path: path)

    async def attach_clipboard(self, tag: str = "") -> None:
        from gemma_code.agent.clipboard import grab_image

        await self._attach("clipboard image", grab_image, tag)

    async def _pasted(self, text: str) -> bool:
        """A paste of nothing but image paths (a drag and drop) attaches them."""
        from gemma_code.agent.attachments import pasted_images

        paths = pasted_images(text, self.root)
        if paths:
            await self.attach_files(paths)
        return bool(paths)

    async def on_prompt_input_clipboard_image_wanted(self, message: PromptInput.ClipboardImageWanted) -> None:
        await self.attach_clipboard(tag="ctrl+v")

    async def on_attachment_bar_done(self, message: AttachmentBar.Done) -> None:
        from gemma_code.agent.clipboard import NoClipboardImage

        if isinstance(message.error, NoClipboardImage) and message.tag == "ctrl+v" and self.clipboard:
            self.prompt.paste_local()  # Ctrl+V after Ctrl+X in the input: the cut text
        elif message.error is not None:
            await self.say(str(message.error), "error")
        elif message.kept:
            await self.say(f"📎 {message.result.how}")

    # --- keys -------------------------------------------------------------------------

    def action_interrupt(self) -> None:
        if self.running and self.session is not None:
            self.session.cancel.set()
            self.query_one(WorkingLine).show("interrupting…", spinning=False)

    def action_ctrl_c(self) -> None:
        now = time.monotonic()
        if now - self._last_ctrl_c < QUIT_WINDOW:
            self.exit()
            return
        self._last_ctrl_c = now
        self.action_interrupt()
        self.notify("Press Ctrl+C again to quit", timeout=QUIT_WINDOW)

    def action_cycle_mode(self) -> None:
        self.set_mode(None)

    def action_toggle_last(self) -> None:
        blocks = self.query(ToolBlock)
        if blocks:
            blocks.last().action_toggle()

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def set_mode(self, mode: str | None) -> None:
        """Set the approval mode, or move to the next one."""
        self.mode = mode or MODES[(MODES.index(self.mode) + 1) % len(MODES)]
        if self.session is not None:
            self.session.agent.tools.mode = self.mode
        self.status.mode = self.mode
        self.notify(f"approval mode: {self.mode} ({MODE_HELP[self.mode]})", timeout=3)

    # --- conversations ----------------------------------------------------------------

    async def _refuse_while_running(self) -> bool:
        if self.running:
            await self.say("a turn is running; Esc interrupts it first", "error")
        return self.running

    async def undo_last_turn(self) -> None:
        """Restore the files the last turn changed (see `Session.undo`)."""
        from gemma_code.agent.checkpoints import CheckpointError, Checkpoints, undo_summary

        if await self._refuse_while_running():
            return
        undo = self.session.undo if self.session else Checkpoints(self.root).undo
        try:
            result = await asyncio.to_thread(undo)
        except CheckpointError as exc:
            await self.say(str(exc), "error")
            return
        await self.say(undo_summary(result))
        self.refresh_workspace()

    async def new_conversation(self) -> None:
        if await self._refuse_while_running():
            return
        await self.transcript.clear_blocks()
        self._history, self._saved = None, None
        if self.session is not None:
            self.session = self._make_session(self.session.backend, None, None)
        self.status.usage = None
        await self.say("new conversation")

    def session_ids(self) -> list[str]:
        return [info.id for info in self.store.list(self.root)] if self.store else []

    async def resume_session(self, session_id: str) -> None:
        if await self._refuse_while_running() or self.store is None:
            return
        try:
            saved, history = self.store.load(session_id)
        except SessionNotFound as exc:
            await self.say(str(exc), "error")
            return
        await self.transcript.clear_blocks()
        await self.transcript.show_history(history)
        for message in history:
            if isinstance(message, UserMessage):
                self.prompt.sent.add(user_display(message.typed))
        self._saved, self._history = saved, history
        if self.session is not None:
            self.session = self._make_session(self.session.backend, saved, history)
        await self.say(f"resumed session {session_id} ({len(history)} messages)")

    # --- leaving ----------------------------------------------------------------------

    async def action_quit(self) -> None:
        self.exit()

    def on_unmount(self) -> None:
        if self.session is not None:
            self.session.cancel.set()  # stops generation, a shell command, a waiting approval

    def shutdown(self, timeout: float = 10.0) -> None:
        """After the app has exited: let the turn thread stop, then free the model."""
        if self.session is not None:
            self.session.cancel.set()
            if self.idle.wait(timeout):
                self.session.backend.close()

    @property
    def session_id(self) -> str | None:
        saved = self.session.saved if self.session else self._saved
        return saved.info.id if saved else None
