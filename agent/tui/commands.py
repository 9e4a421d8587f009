"""Slash commands: what each does, its completion, and the help screen.

Commands see the app only through `CommandTarget`, the few things they use.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from gemma_code.agent.events import ToolFinished
from gemma_code.agent.messages import ToolCall
from gemma_code.agent.lifecycle import APPROVAL_MODES, SessionLifecycle

from .attach import AttachmentBar, ImageAttacher
from .input import PromptInput, Suggestion
from .runtime import git_diff
from .transcript import Transcript, user_display
from .widgets import ToolBlock

MODES: tuple[str, ...] = APPROVAL_MODES
MODE_HELP = {
    "read-only": "no edits and no commands",
    "ask": "asks before every edit and command",
    "auto-edit": "edits without asking, asks before commands",
    "auto": "runs edits and commands without asking",
}
KEYS = [
    ("Enter", "send the message"),
    ("Ctrl+J / Shift+Enter", "new line in the message"),
    ("Up / Down", "earlier messages (history)"),
    ("Tab", "complete a /command or @path"),
    ("@path", "attach a file's content to the message"),
    ("Ctrl+V", "attach the image on the clipboard (also /paste)"),
    ("drop an image file", "attach it (so does pasting its path; PNG, JPEG, WebP, GIF, BMP)"),
    ("Esc", "interrupt the model or the running tool"),
    ("PageUp / PageDown", "scroll the conversation"),
    ("Ctrl+P", "command palette: every /command, searchable"),
    ("Shift+Tab", "cycle the approval mode"),
    ("Ctrl+O", "expand or collapse the latest tool output"),
    ("Enter on a tool block", "expand or collapse its output"),
    ("y / a / n", "approve once / always / deny (in an approval prompt)"),
    ("Ctrl+C", "clear the input; on an empty input, twice: quit"),
]


class CommandTarget(Protocol):
    """What the commands need of the app: its session lifecycle, a few widgets and actions."""

    root: Path
    lifecycle: SessionLifecycle
    images: ImageAttacher
    running: bool

    @property
    def transcript(self) -> Transcript: ...
    @property
    def prompt(self) -> PromptInput: ...
    @property
    def attachments(self) -> AttachmentBar: ...
    @property
    def current_model(self) -> str: ...

    async def say(self, text: str | Content, kind: str = "info") -> None: ...
    def set_mode(self, mode: str | None) -> None: ...
    async def switch_model(self, name: str) -> None: ...
    async def new_conversation(self) -> None: ...
    async def resume_session(self, session_id: str) -> None: ...
    async def undo_last_turn(self) -> None: ...
    def suspend(self) -> AbstractContextManager[None]: ...
    def push_screen(self, screen: ModalScreen, callback: Callable) -> object: ...
    def action_help(self) -> None: ...
    async def action_quit(self) -> None: ...


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    run: Callable[[CommandTarget, str], Awaitable[None]]
    args: str = ""  # shown in help, e.g. "[MODE]"; "" when it takes none
    choices: Callable[[CommandTarget], list[str]] | None = None
    # (app, the argument typed so far) -> completions; for arguments that are paths
    complete: Callable[[CommandTarget, str], list[str]] | None = None


async def _help(app: CommandTarget, arg: str) -> None:
    app.action_help()


async def _model(app: CommandTarget, arg: str) -> None:
    if arg:
        await app.switch_model(arg)
        return
    from gemma_code.agent.models import ModelError, list_models

    try:
        entries = list_models()
    except ModelError as exc:
        await app.say(str(exc), "error")
        return
    width = max(len(e.spec.name) for e in entries)
    lines = [f"{e.spec.name:<{width}}  {e.size:>8}  "
             f"{'here' if e.present else 'not here':<8}  {e.spec.backend}" for e in entries]
    await app.say(f"models (current: {app.current_model}); /model NAME switches, /pull NAME downloads\n"
                  + "\n".join(lines))


async def _clear(app: CommandTarget, arg: str) -> None:
    await app.new_conversation()


async def _diff(app: CommandTarget, arg: str) -> None:
    diff = await asyncio.to_thread(git_diff, app.root)
    block = ToolBlock(ToolCall(name="git diff"))
    await app.transcript.add(block)
    files = sum(1 for line in diff.splitlines() if line.startswith("diff --git"))
    summary = f"{files} file{'s' if files != 1 else ''} changed" if diff.strip() else "no changes"
    block.finish(ToolFinished(call_id=block.call.id, name="git diff", is_error=False,
                              content=(), summary=summary, diff=diff or None))


async def _undo(app: CommandTarget, arg: str) -> None:
    await app.undo_last_turn()


async def _checkpoints(app: CommandTarget, arg: str) -> None:
    from gemma_code.agent.checkpoints.records import CheckpointError
    from gemma_code.agent.checkpoints.store import Checkpoints

    try:
        listed = await asyncio.to_thread(Checkpoints(app.root).list)
    except CheckpointError as exc:
        await app.say(str(exc), "error")
        return
    if not listed:
        await app.say("no checkpoints yet: one is taken before each turn's first change")
        return
    lines = [f"{c.id}  {c.created:%m-%d %H:%M}  {'undone  ' if c.undone else ''}{user_display(c.label)}"
             f"\n    {', '.join(c.files) or '(the turn did not finish)'}" for c in listed[:15]]
    await app.say("checkpoints, newest first (/undo restores the newest not undone):\n"
                  + "\n".join(lines))


async def _compact(app: CommandTarget, arg: str) -> None:
    """The model writes a hand-off summary (with `arg` as its focus) that replaces the
    conversation; Esc stops it and leaves the conversation as it was."""
    if app.lifecycle.session is None or app.running:
        await app.say("/compact needs a loaded model and no turn running", "error")
        return
    focus = f" (focus: {arg})" if arg else ""
    await app.say(f"compacting: the model writes a summary of the conversation{focus}")
    app.running = True
    try:
        events = await asyncio.to_thread(lambda: list(app.lifecycle.compact(arg)))
    except Exception as exc:  # noqa: BLE001 - shown in the transcript; the app stays up
        await app.say(f"compacting failed: {type(exc).__name__}: {exc}", "error")
        return
    finally:
        app.running = False
    for event in events:
        await app.transcript.show(event)


async def _image(app: CommandTarget, arg: str) -> None:
    from gemma_code.agent.attachments import image_arguments

    if not arg:
        await app.say(app.attachments.listing())
    elif arg == "clear":
        count = app.attachments.clear()
        await app.say(f"dropped {count} attachment{'s' if count != 1 else ''}" if count
                      else "no images are attached")
    else:
        await app.images.files(image_arguments(arg, app.root))


async def _paste(app: CommandTarget, arg: str) -> None:
    await app.images.clipboard()


def _image_paths(app: CommandTarget, typed: str) -> list[str]:
    from gemma_code.agent.attachments import complete_path

    clear = ["clear"] if typed and "clear".startswith(typed) else []
    return clear + complete_path(typed, app.root)


async def _approval(app: CommandTarget, arg: str) -> None:
    if arg and arg not in MODES:
        await app.say(f"unknown approval mode {arg!r}; choose one of: {', '.join(MODES)}", "error")
        return
    app.set_mode(arg or None)


async def _sessions(app: CommandTarget, arg: str) -> None:
    infos = app.lifecycle.saved_sessions()
    if not infos:
        await app.say("no saved sessions for this workspace yet")
        return
    current = app.lifecycle.session_id
    lines = [f"{i.id}  {Path(i.model).name}  {user_display(i.title) or '(empty)'}"
             f"{'  (this one)' if i.id == current else ''}" for i in infos[:20]]
    await app.say("saved sessions (/resume ID goes on with one):\n" + "\n".join(lines))


async def _resume(app: CommandTarget, arg: str) -> None:
    if arg:
        await app.resume_session(arg)
        return
    from .pickers import SessionPicker

    infos = app.lifecycle.saved_sessions()
    if not infos:
        await app.say("no saved sessions for this workspace yet")
        return

    async def picked(session_id: str | None) -> None:
        if session_id:
            await app.resume_session(session_id)

    app.push_screen(SessionPicker(infos[:50], app.lifecycle.session_id), picked)


async def _pull(app: CommandTarget, arg: str) -> None:
    """Download in the terminal itself, with the hub's progress bars, then come back."""
    from textual.app import SuspendNotSupported

    from gemma_code.agent.models import pull_model

    if not arg:
        await app.say("usage: /pull NAME (see /model for the names)", "error")
        return
    try:
        with app.suspend():
            print(f"gemma-code: pulling {arg} (the app comes back when it is done)")
            code = pull_model(arg)
            input("press Enter to go back to gemma-code ")  # so the result can be read
    except SuspendNotSupported:
        await app.say(f"cannot show a download here; run `gemma-code pull {arg}` in a shell", "error")
        return
    if code == 0:
        await app.say(f"pulled {arg}; /model {arg} switches to it")
    else:
        await app.say(f"pulling {arg} failed (the terminal showed why)", "error")


async def _map(app: CommandTarget, arg: str) -> None:
    from gemma_code.agent.context import budgets
    from gemma_code.agent.context.prepare import load_index, repo_map, token_counter

    session = app.lifecycle.session
    backend = session.backend if session else None
    context = backend.context_size if backend else app.lifecycle.settings.context_size or 32768
    budget = budgets(app.lifecycle.settings, context, *([backend.profile] if backend else []))[0]
    if budget <= 0:
        await app.say("the repo map is off (repo_map_tokens = 0)", "warning")
        return
    shown = await asyncio.to_thread(
        lambda: repo_map(load_index(app.root), arg, budget, token_counter(backend)))
    await app.say(shown or "no repo map: this workspace has no files the map can list")


async def _init(app: CommandTarget, arg: str) -> None:
    """Send the init turn as if typed: the model writes AGENTS.md, the write asks as edits do."""
    from gemma_code.agent.context.init import init_request

    session = app.lifecycle.session
    if session is None or app.running:
        await app.say("/init needs a loaded model and no turn running", "error")
        return
    request = await asyncio.to_thread(init_request, app.root, app.lifecycle.settings,
                                      session.agent, arg)
    request.apply(session)  # the key files and the map go ahead of the prompt as notes
    test = f"`{request.test_command}`" if request.test_command else "none found"
    await app.say(f"asking the model for AGENTS.md; test command: {test}")
    app.prompt.post_message(PromptInput.Submitted(request.prompt))


async def _mcp(app: CommandTarget, arg: str) -> None:
    from gemma_code.agent.mcp.listing import listing

    await app.say(listing(app.lifecycle.mcp, app.lifecycle.settings.mcp_servers))


async def _quit(app: CommandTarget, arg: str) -> None:
    await app.action_quit()


def _model_names(app: CommandTarget) -> list[str]:
    from gemma_code.agent.models import model_names

    return model_names()


def _session_ids(app: CommandTarget) -> list[str]:
    return [info.id for info in app.lifecycle.saved_sessions()]


COMMANDS: dict[str, Command] = {c.name: c for c in [
    Command("help", "show commands and keys", _help),
    Command("model", "list models, or switch to NAME", _model, "[NAME]", _model_names),
    Command("clear", "start a new conversation", _clear),
    Command("diff", "show uncommitted changes (git diff)", _diff),
    Command("undo", "restore the files the last turn changed (repeat to go further back)", _undo),
    Command("checkpoints", "list the turns /undo can restore", _checkpoints),
    Command("image", "attach an image to the next message; alone lists, clear drops them",
            _image, "[PATH|clear]", complete=_image_paths),
    Command("paste", "attach the image on the clipboard (like Ctrl+V)", _paste),
    Command("compact", "replace the conversation by the model's summary of it", _compact,
            "[FOCUS]"),
    Command("approval", "set the approval mode, or cycle it", _approval, "[MODE]", lambda app: list(MODES)),
    Command("sessions", "list saved sessions of this workspace", _sessions),
    Command("resume", "go on with a saved session (alone: pick one from a list)", _resume, "[ID]",
            _session_ids),
    Command("pull", "download a model (progress in the terminal)", _pull, "NAME", _model_names),
    Command("map", "show the repo map the model gets, ranked for TEXT", _map, "[TEXT]"),
    Command("init", "have the model write or improve AGENTS.md (you approve the diff)", _init,
            "[TEXT]"),
    Command("mcp", "list the MCP servers, their state and tools", _mcp),
    Command("quit", "leave gemma-code", _quit),
]}


def complete_command(app: CommandTarget, before: str) -> list[Suggestion]:
    """Suggestions for a line that starts with `/`: command names, then their arguments."""
    if not before.startswith("/"):
        return []
    name, space, typed = before[1:].partition(" ")
    if not space:
        return [
            Suggestion(label=f"/{c.name}", text=f"/{c.name}" + (" " if c.args else ""),
                       start=0, end=len(before), help=c.help)
            for c in COMMANDS.values() if c.name.startswith(name)
        ]
    command = COMMANDS.get(name)
    if command is None:
        return []
    if command.complete is not None:
        found = command.complete(app, typed)
    elif command.choices is not None and " " not in typed:
        found = [choice for choice in command.choices(app) if choice.startswith(typed)]
    else:
        return []
    start = len(before) - len(typed)
    return [Suggestion(label=choice, text=choice, start=start, end=len(before))
            for choice in found[:8]]


async def run_command(app: CommandTarget, line: str) -> None:
    name, _, arg = line[1:].partition(" ")
    command = COMMANDS.get(name.strip())
    if command is None:
        await app.say(f"unknown command /{name}; /help lists them", "error")
        return
    await command.run(app, arg.strip())


def help_content() -> Content:
    """Every command and key, as one text."""
    width = max(len(f"/{c.name} {c.args}") for c in COMMANDS.values())
    parts: list[Content] = [Content.styled("Commands", "bold $text-primary")]
    for c in COMMANDS.values():
        usage = f"/{c.name} {c.args}".strip()
        parts.append(Content.assemble((f"  {usage:<{width}}  ", "bold"), c.help))
    key_width = max(len(k) for k, _ in KEYS)
    parts += [Content(""), Content.styled("Keys", "bold $text-primary")]
    parts += [Content.assemble((f"  {k:<{key_width}}  ", "bold"), v) for k, v in KEYS]
    parts += [Content(""), Content.styled("Esc or q closes this help", "$text-muted")]
    return Content("\n").join(parts)


class HelpScreen(ModalScreen[None]):
    """Commands and keys."""

    BINDINGS = [Binding("escape,q,enter", "dismiss", "Close")]

    def compose(self):
        with VerticalScroll(id="help"):
            yield Static(help_content())

    def action_dismiss(self) -> None:
        self.dismiss(None)
