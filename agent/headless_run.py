"""`gemma-code run`: one prompt, run headless, its events framed by a first and a last event.

The first (`RunStarted`) says what runs where; the last (`RunFinished`) holds the answer,
the totals, the files changed, the calls the approval mode blocked and the exit status.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from typing import TYPE_CHECKING, TextIO

from .events import (
    AgentEvent, ApprovalNeeded, ApprovalResolved, BlockedAction, RunFinished, RunStarted,
    StepStarted, TextDelta, ToolCallStarted, ToolFinished, TurnDone, Usage,
)
from .headless import print_human, print_json
from .messages import SystemMessage, UserMessage

if TYPE_CHECKING:
    from .images import PreparedImage
    from .lifecycle import SessionLifecycle

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_BLOCKED = 0, 1, 2, 3

EXIT_STATUS_HELP = """\
exit status:
  0  the model answered (or stopped at --max-steps)
  1  an error (one line on stderr), or the turn stopped: context full, cancelled
  2  the command cannot run as given: bad arguments, an empty prompt, a prompt longer
     than the model's context
  3  a call the model made needed approval, which no one can give in a headless run;
     stderr lists each, with the --approval mode that allows it where one does
  130  interrupted (Ctrl+C)"""


class UsageError(Exception):
    """The command line asks for something that cannot run as given (exit status 2)."""

    exit_code = EXIT_USAGE


def package_version() -> str:
    """gemma-code's installed version."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("gemma-code")
    except PackageNotFoundError:
        return "unknown"


def read_prompt(given: str, stdin: TextIO, err: TextIO) -> str:
    """The prompt; `-` reads it from stdin. An empty or blank one is refused."""
    if given == "-" and stdin.isatty():
        err.write("gemma-code: reading the prompt from the terminal; end it with Ctrl+D\n")
    prompt = stdin.read() if given == "-" else given
    if not prompt.strip():
        what = "stdin held no prompt" if given == "-" else "the prompt is empty"
        raise UsageError(f'{what}: say what to do, e.g. gemma-code run "fix the failing test" '
                         "(or pipe it in: ... | gemma-code run -)")
    return prompt


def check_prompt_fits(lifecycle: SessionLifecycle, message: UserMessage) -> None:
    """Refuse, before any model step, a prompt that the model's context cannot hold."""
    from .context.prepare import token_counter

    session = lifecycle.session
    count, size = token_counter(session.backend), session.backend.context_size
    prompt = count(message.text)
    # Compaction can take the conversation down to the system prompt, not below.
    kept = session.agent.messages[:1] if lifecycle.settings.compact_at < 1 else session.agent.messages
    taken = sum(count(m.content if isinstance(m, SystemMessage) else m.text) for m in kept)
    if prompt + taken <= size:
        return
    raise UsageError(
        f"the prompt is about {prompt:,} tokens and the model's context holds {size:,} "
        f"({taken:,} of them taken by the system prompt and the conversation so far): "
        "shorten the prompt, or raise --context-size if the model allows more"
    )


def prompt_message(prompt: str, images: list[PreparedImage], lifecycle: SessionLifecycle,
                   say: Callable[[str], None]) -> UserMessage:
    """The prompt as the model gets it: the images and `@path` files, each announced."""
    from .attachments import expand_mentions

    attached = []
    for image in images:
        for_model = lifecycle.session.attach_image(image)
        say(for_model.how)
        attached.extend(for_model.parts)
    expanded = expand_mentions(prompt, lifecycle.root)
    for problem in expanded.problems:
        say(problem)
    if expanded.attached:
        say(f"attached {', '.join(expanded.attached)}")
    return UserMessage.of(expanded.text, tuple(attached))


def continued_line(lifecycle: SessionLifecycle) -> str:
    """`continuing session ID of 2026-12-07: "fix the test" (2 earlier prompts)`"""
    saved = lifecycle.session.saved
    prompts = [m.typed for m in lifecycle.session.agent.messages if isinstance(m, UserMessage)]
    title = " ".join(prompts[0].split())[:60] if prompts else ""
    count = len(prompts)
    return (f"continuing session {saved.info.id} of {saved.info.created[:10]}: \"{title}\" "
            f"({count} earlier prompt{'s' if count != 1 else ''})")


def run_started(lifecycle: SessionLifecycle, continued: bool) -> RunStarted:
    """The first event: the session, the model, the workspace and what may run."""
    from .models import model_label

    session, settings = lifecycle.session, lifecycle.settings
    sandbox = session.agent.ctx.sandbox
    threads = getattr(session.backend, "threads", None)
    return RunStarted(
        session_id=lifecycle.session_id or "", continued=continued, version=package_version(),
        model=getattr(session.backend, "served_model", None) or model_label(settings),
        backend=session.backend.name,
        workspace=str(lifecycle.root), approval=lifecycle.mode,
        sandbox=sandbox.name if sandbox else ("off" if session.unconfined == "off" else "none"),
        network=settings.network, verify=session.verifier is not None,
        context_size=session.backend.context_size, max_steps=settings.max_steps,
        max_tokens=settings.max_tokens, temperature=settings.temperature,
        threads=getattr(threads, "count", None),
    )


def allowed_by(asked: ApprovalNeeded, mode: str, auto_runs_shell: bool) -> str | None:
    """The option that would let the asked-for call run headless; None: it asks in every
    mode (a destructive command, an edit of gemma-code's own settings: the rules say so)."""
    if "in every mode" in asked.reason:
        return None
    if asked.command is not None:
        return "--approval auto" if auto_runs_shell else "--approval auto --sandbox off"
    if asked.diff is not None and mode in ("read-only", "ask"):
        return "--approval auto-edit"
    return "--approval auto"


def _target(asked: ApprovalNeeded) -> str:
    if asked.command is not None:
        return f"`{asked.command}`"
    path = asked.call.arguments.get("path")
    return path if isinstance(path, str) else ""


class RunTally:
    """Watches a run's events and adds the first and the last: `RunStarted`, `RunFinished`."""

    def __init__(self, lifecycle: SessionLifecycle, started: RunStarted) -> None:
        self.lifecycle, self.started = lifecycle, started
        self.finished: RunFinished | None = None
        self._usage: list[Usage] = []
        self._answer: list[str] = []
        self._asked: dict[str, ApprovalNeeded] = {}
        self._blocked: list[BlockedAction] = []
        self._paths: dict[str, str] = {}  # call id -> the path it names
        self._edited: list[str] = []
        self._done: TurnDone | None = None
        self._steps = 0

    def watch(self, events: Iterator[AgentEvent]) -> Iterator[AgentEvent]:
        """`events` between the first and the last event; an error still ends with the last."""
        clock = time.monotonic()
        yield self.started
        with closing(events):
            try:
                for event in events:
                    self._take(event)
                    yield event
            except Exception:
                self.finished = self._finish(time.monotonic() - clock, error=True)
                yield self.finished
                raise
        self.finished = self._finish(time.monotonic() - clock)
        yield self.finished

    def _take(self, event: AgentEvent) -> None:
        if isinstance(event, Usage):
            self._usage.append(event)
        elif isinstance(event, StepStarted):
            self._answer.clear()
            self._steps = event.step
        elif isinstance(event, TextDelta):
            self._answer.append(event.text)
        elif isinstance(event, ToolCallStarted):
            path = event.call.arguments.get("path")
            if isinstance(path, str):
                self._paths[event.call.id] = path
        elif isinstance(event, ApprovalNeeded):
            self._asked[event.call.id] = event
        elif isinstance(event, ApprovalResolved) and not event.approved:
            self._block(event.call_id)
        elif isinstance(event, ToolFinished) and event.diff and not event.is_error:
            self._edited.append(self._paths.get(event.call_id, ""))
        elif isinstance(event, TurnDone):
            self._done = event

    def _block(self, call_id: str) -> None:
        asked = self._asked.get(call_id)
        if asked is None:
            return
        registry = self.lifecycle.session.agent.tools
        self._blocked.append(BlockedAction(
            tool=asked.call.name, target=_target(asked), reason=asked.reason,
            allowed_by=allowed_by(asked, registry.mode, registry.auto_runs_shell),
        ))

    def _finish(self, seconds: float, error: bool = False) -> RunFinished:
        reason = "error" if error or self._done is None else self._done.reason
        session = self.lifecycle.session
        changed = session.changed_files if session.checkpoints is not None else self._edited
        return RunFinished(
            reason=reason, exit_code=exit_status(reason, self._blocked),
            answer="".join(self._answer).strip(), steps=self._done.steps if self._done else self._steps,
            prompt_tokens=reported_sum(u.prompt_tokens for u in self._usage),
            cached_tokens=reported_sum(u.cached_tokens for u in self._usage),
            completion_tokens=reported_sum(u.completion_tokens for u in self._usage),
            prefill_seconds=sum(u.prefill_seconds for u in self._usage),
            decode_seconds=sum(u.decode_seconds for u in self._usage),
            seconds=round(seconds, 3), files_changed=tuple(dict.fromkeys(p for p in changed if p)),
            blocked=tuple(self._blocked),
        )


def reported_sum(figures: Iterable[int | None]) -> int | None:
    """The sum of the figures a backend reported; None when it reported none."""
    known = [figure for figure in figures if figure is not None]
    return sum(known) if known else None


def exit_status(reason: str, blocked: list[BlockedAction]) -> int:
    """0 answered, 1 error or stopped short, 3 a call needed an approval that no one could
    give, so the task is likely not done (see --help)."""
    if reason in ("error", "context_full", "cancelled"):
        return EXIT_ERROR
    return EXIT_BLOCKED if blocked else EXIT_OK


def run_headless(lifecycle: SessionLifecycle, message: UserMessage, *, as_json: bool,
                 continued: bool, out: TextIO, err: TextIO, attempts: int = 1) -> int:
    """Run one prompt (in up to `attempts` tries), print its events (JSON lines or text) and
    return the exit status."""
    from .attempts import attempted_turns

    check_prompt_fits(lifecycle, message)
    events = attempted_turns(lifecycle, message, attempts)  # the session file exists from here
    tally = RunTally(lifecycle, run_started(lifecycle, continued))
    with closing(tally.watch(events)) as stream:
        if as_json:
            print_json(stream, out)
        else:
            print_human(stream, out, err)
    finished = tally.finished
    if finished.reason in ("context_full", "cancelled"):
        err.write(f"gemma-code: stopped: {finished.reason.replace('_', ' ')}\n")
    return finished.exit_code
