"""`gemma-code init`: one headless turn that writes (or improves) AGENTS.md.

The write goes through the approval rules as any edit does. In `ask` mode, on a terminal the
diff is shown and the person answers; `--yes` approves the AGENTS.md write without asking;
with neither, the proposal is printed and nothing is written. Only AGENTS.md may be written:
any other call that needs approval is denied, and the model told why.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from .context.agents_md import NAME as AGENTS_NAME
from .context.init import init_request
from .events import AgentEvent, ApprovalNeeded, ApprovalResolved, RunFinished
from .headless import print_human
from .headless_run import EXIT_BLOCKED, EXIT_ERROR, EXIT_OK, RunTally, check_prompt_fits, run_started
from .messages import UserMessage
from .prompts import INIT_NOT_WRITTEN
from .protocols import ApprovalDecision, ApprovalRequest

EDIT_TOOLS = ("write_file", "edit_file")
NOT_INIT = ("gemma-code init only writes AGENTS.md: do not change other files or run commands; "
            "write AGENTS.md with write_file")


def is_agents_md_edit(request: ApprovalRequest) -> bool:
    """Whether the call writes the root AGENTS.md."""
    path = request.call.arguments.get("path")
    return (request.tool in EDIT_TOOLS and isinstance(path, str)
            and path.strip().removeprefix("./") == AGENTS_NAME)


@dataclass
class InitApprover:
    """Approves the AGENTS.md write: asks on a terminal (`stdin`), or `yes`, or no one can.

    `watch` sees each event before the registry asks, so the diff is known when it asks."""

    out: TextIO
    stdin: TextIO | None = None  # a terminal to ask on; None: no one to ask
    yes: bool = False
    proposal: str | None = None  # the diff no one could approve
    declined: bool = False
    answered: set[str] = field(default_factory=set)  # call ids a person answered
    _asked: ApprovalNeeded | None = None

    def decide(self, request: ApprovalRequest) -> ApprovalDecision:
        if not is_agents_md_edit(request):
            return ApprovalDecision(approved=False, note=NOT_INIT)
        if self.yes:
            return ApprovalDecision(approved=True)
        diff = self._asked.diff if self._asked and self._asked.call.id == request.call.id else None
        if self.stdin is None:
            self.proposal = diff or self.proposal
            return ApprovalDecision(approved=False, note=(
                "no one can approve it here; the user is shown your AGENTS.md. Stop now and "
                "answer in one sentence"))
        self.answered.add(request.call.id)
        return self._ask(diff)

    def _ask(self, diff: str | None) -> ApprovalDecision:
        self.out.write(f"\nProposed change to {AGENTS_NAME}:\n{diff or '(no change)'}\n")
        self.out.write(f"Write {AGENTS_NAME}? [y/N, or say what to change] ")
        self.out.flush()
        answer = self.stdin.readline().strip()
        if answer.lower() in ("y", "yes"):
            return ApprovalDecision(approved=True)
        if answer.lower() in ("", "n", "no"):
            self.declined = True
            return ApprovalDecision(approved=False, note="the user does not want this AGENTS.md. "
                                    "Stop now and answer in one sentence")
        return ApprovalDecision(approved=False, note=f"the user wants changes: {answer}. "
                                "Write AGENTS.md again with them")

    def watch(self, events: Iterator[AgentEvent]) -> Iterator[AgentEvent]:
        """The events, minus what a person answered here (they saw it happen)."""
        with closing(events):
            for event in events:
                if isinstance(event, ApprovalNeeded):
                    self._asked = event
                if isinstance(event, ApprovalResolved) and event.call_id in self.answered:
                    continue
                if isinstance(event, RunFinished) and self.answered:
                    event = event.model_copy(update={"blocked": ()})
                yield event


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def run_init(lifecycle, approver: InitApprover, *, request: str, out: TextIO, err: TextIO) -> int:
    """Run the init turn in `lifecycle` (opened with `approver`); the exit status."""
    session = lifecycle.session
    target = lifecycle.root / AGENTS_NAME
    before = _digest(target)
    prepared = init_request(lifecycle.root, lifecycle.settings, session.agent, request)
    message = prepared.apply(session)
    test = f"`{prepared.test_command}`" if prepared.test_command else "none found"
    err.write(f"gemma-code: init: asking the model for {AGENTS_NAME}; test command: {test}\n")
    check_prompt_fits(lifecycle, message)
    finished = _turn(lifecycle, approver, message, out, err)
    if _answered_instead(finished, approver) and _digest(target) == before:
        finished = _turn(lifecycle, approver, UserMessage.of(INIT_NOT_WRITTEN), out, err)
    return outcome(finished, approver, _digest(target) != before, out, err)


def _turn(lifecycle, approver: InitApprover, message: UserMessage, out: TextIO,
          err: TextIO) -> RunFinished:
    tally = RunTally(lifecycle, run_started(lifecycle, continued=False))
    with closing(approver.watch(tally.watch(lifecycle.run(message)))) as stream:
        print_human(stream, out, err)
    return tally.finished


def _answered_instead(finished: RunFinished, approver: InitApprover) -> bool:
    """The model answered with text and asked for no write (small models write the file
    as their answer): it is told once to write it."""
    return (finished.reason == "answered" and bool(finished.answer) and not finished.blocked
            and approver.proposal is None and not approver.declined)


def outcome(finished: RunFinished, approver: InitApprover, written: bool,
            out: TextIO, err: TextIO) -> int:
    """Say how it ended: written, shown for approval, declined, or not done; the exit status."""
    if finished.reason == "error":
        return EXIT_ERROR
    if written:
        err.write(f"gemma-code: wrote {AGENTS_NAME}\n")
        return EXIT_OK
    if approver.proposal is not None:
        out.write(f"\nProposed change to {AGENTS_NAME} (not written):\n{approver.proposal}\n")
        err.write(f"gemma-code: {AGENTS_NAME} not written: no terminal to ask on. Rerun on a "
                  "terminal, or with --yes (or --approval auto-edit) to write it\n")
        return EXIT_BLOCKED
    if approver.declined:
        err.write(f"gemma-code: {AGENTS_NAME} not written: you declined it\n")
        return EXIT_ERROR
    err.write(f"gemma-code: the model did not write {AGENTS_NAME} (its answer is above); "
              "try again, or with a larger model (--model)\n")
    return EXIT_ERROR
