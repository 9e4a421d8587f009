"""`gemma-code run --attempts N`: independent tries of one turn, the project's tests choosing.

A small model gets a task right now and then; one that is sampled again from the same start
often gets it right where the first try did not. Each try starts from the same files and the
same conversation; the first whose changes pass the tests is kept. A try that fails them is
undone (its files restored from the turn's checkpoint, its messages taken out of the
conversation) before the next, sampled hotter. The tests are the only judge: where no test
result can choose (no test command, the tests not run, checkpoints off), there is one try.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from .events import AgentEvent, Compacted, Notice, VerifyFinished
from .lifecycle import SessionLifecycle
from .messages import UserMessage
from .verify import find_test_command

RETRY_FLOOR = 0.7  # a later try is sampled at least this hot: at temperature 0 it would repeat


def attempted_turns(lifecycle: SessionLifecycle, user: UserMessage, attempts: int) -> Iterator[AgentEvent]:
    """Up to `attempts` tries of the turn `user` asks for, as described above. The first
    starts now (the session file exists when this returns); the others as the events are read."""
    return _tries(lifecycle, user, attempts, lifecycle.run(user))


def _tries(lifecycle: SessionLifecycle, user: UserMessage, attempts: int,
           first: Iterator[AgentEvent]) -> Iterator[AgentEvent]:
    session = lifecycle.session
    why_once = _why_one_try(lifecycle) if attempts > 1 else None
    if attempts <= 1 or why_once:
        if why_once:
            yield Notice(text=f"one try instead of {attempts}: {why_once}")
        yield from first
        return
    first_options = session.agent.options
    hotter = max(RETRY_FLOOR, session.settings.retry_temperature, first_options.temperature or 0.0)
    try:
        for number in range(1, attempts + 1):
            start = len(session.agent.messages)
            verdict: VerifyFinished | None = None
            compacted = False
            for event in first if number == 1 else lifecycle.run(user):
                if isinstance(event, VerifyFinished):
                    verdict = event
                compacted = compacted or isinstance(event, Compacted)
                yield event
            if session.cancel.is_set():
                return
            if compacted and not (verdict is not None and verdict.passed):
                yield Notice(text=f"try {number} of {attempts} is kept: the conversation was "
                             "compacted during it, so it cannot be taken back out")
                return
            changed = bool(session.changed_files)
            if changed and verdict is None:
                yield Notice(text=f"try {number} of {attempts} is kept: its changes were not "
                             "tested, so there is nothing to choose by")
                return
            if verdict is not None and verdict.passed:
                if number > 1:
                    yield Notice(text=f"try {number} of {attempts} passed the tests and is kept")
                return
            if verdict is not None and verdict.outcome not in ("failed", "timed_out"):
                yield Notice(text=f"try {number} of {attempts} is kept: its tests were "
                             f"{verdict.summary}")
                return
            what = "failed the tests" if changed else "changed no file"
            if number == attempts:
                kept = "its changes are kept" if changed else "nothing was changed"
                yield Notice(text=f"no try of {attempts} passed the tests; the last {what}, and "
                             f"{kept}")
                return
            _discard(lifecycle, start, changed)
            session.agent.options = replace(first_options, temperature=hotter)
            yield Notice(text=f"try {number} of {attempts} {what}: undone; try {number + 1} of "
                         f"{attempts} starts again from the same files at temperature {hotter:g}")
    finally:
        session.agent.options = first_options


def _why_one_try(lifecycle: SessionLifecycle) -> str | None:
    session = lifecycle.session
    if session.verifier is None:
        return "the tests choose between tries, and verify is off"
    if session.checkpoints is None:
        return "a failed try is undone from its checkpoint, and checkpoints are off"
    if find_test_command(lifecycle.root, session.settings.test_command) is None:
        return ("the tests choose between tries, and no test command was found (say it in "
                "AGENTS.md as Test: `command`, or set test_command)")
    return None


def _discard(lifecycle: SessionLifecycle, start: int, changed: bool) -> None:
    """Undo a try: its files as they were before it, its messages out of the conversation."""
    session = lifecycle.session
    if changed:
        session.checkpoints.undo()
    session.forget_since(start)
