"""Verification: find the project's test command, run it when a turn changed files, and while
the tests fail give the model the failure and let the turn go on (up to `verify_rounds` times).

The tests run as a `run_shell` call through the session's tool registry, so the sandbox and
the approval rules are those of the model's own commands. What happens is told as events
(`VerifyStarted`, `VerifyFinished`) like any other step.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .events import (
    AgentEvent, ApprovalNeeded, Notice, ToolFinished, TurnDone, VerifyFinished, VerifyStarted,
)
from .loop import Agent, run_turn
from .messages import ToolCall, UserMessage
from .protocols import ToolResult

OUTPUT_BUDGET = 4000  # characters of test output the model and the event get
FAILURES_SHOWN = 20
PYTEST_NO_TESTS = 5  # pytest's exit code when it collected nothing


@dataclass(frozen=True)
class TestCommand:
    """The command that runs the project's tests, and where it was found."""

    __test__ = False  # not a pytest test class
    command: str
    source: str


# -- finding the test command ---------------------------------------------------------------

# AGENTS.md: a line "Test: `cmd`" (also "Tests:", "Test command:", in a list item or bold).
_TEST_LINE = re.compile(r"^[\s>*_-]*tests?(?: command)?[*_]*\s*:[*_]*\s*`([^`\n]+)`", re.I | re.M)
_HEADING = re.compile(r"^#{1,6}\s+(.*)$")


def find_test_command(root: Path, configured: str | None = None) -> TestCommand | None:
    """The project's test command, or None when nothing says how to run its tests.

    In this order: the `test_command` setting; AGENTS.md; pytest's configuration; the
    `test` script of package.json; a Makefile's `test` target; a Python test layout.
    """
    if configured and configured.strip():
        return TestCommand(configured.strip(), "the test_command setting")
    for find in (_agents_md, _pytest_config, _package_json, _makefile, _python_layout):
        found = find(Path(root))
        if found is not None:
            return found
    return None


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace") if path.is_file() else None
    except OSError:
        return None


def _agents_md(root: Path) -> TestCommand | None:
    """`Test: \\`cmd\\``, or the first line of the first fenced block under a heading that
    names tests ("## Testing", "## Run the tests")."""
    text = _read(root / "AGENTS.md")
    if text is None:
        return None
    if match := _TEST_LINE.search(text):
        return TestCommand(match.group(1).strip(), "AGENTS.md")
    under_test, fenced = False, False
    for line in text.splitlines():
        heading = _HEADING.match(line)
        if heading and not fenced:
            under_test = re.search(r"\btest", heading.group(1), re.I) is not None
        elif line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        elif fenced and under_test and line.strip() and not line.lstrip().startswith("#"):
            return TestCommand(line.strip().removeprefix("$ ").strip(), "AGENTS.md")
    return None


def _pytest() -> str:
    python = "python" if shutil.which("python") or not shutil.which("python3") else "python3"
    # -p no:cacheprovider: checking the work must not leave a .pytest_cache in the workspace
    return f"{python} -m pytest -q -p no:cacheprovider"


_PYTEST_SECTIONS = (("pytest.ini", ""), ("pyproject.toml", "[tool.pytest.ini_options]"),
                    ("setup.cfg", "[tool:pytest]"), ("tox.ini", "[pytest]"))


def _pytest_config(root: Path) -> TestCommand | None:
    for name, section in _PYTEST_SECTIONS:
        text = _read(root / name)
        if text is not None and (not section or section in map(str.strip, text.splitlines())):
            return TestCommand(_pytest(), name)
    return None


def _package_json(root: Path) -> TestCommand | None:
    try:
        data = json.loads(_read(root / "package.json") or "null")
    except json.JSONDecodeError:
        return None
    scripts = data.get("scripts") if isinstance(data, dict) else None
    test = scripts.get("test") if isinstance(scripts, dict) else None
    if isinstance(test, str) and test.strip() and "no test specified" not in test:
        return TestCommand("npm test", "package.json")
    return None


_MAKE_TEST = re.compile(r"^(?:[\w./-]+[ \t]+)*test(?:[ \t]+[\w./-]+)*[ \t]*::?(?!=)", re.M)


def _makefile(root: Path) -> TestCommand | None:
    for name in ("GNUmakefile", "makefile", "Makefile"):
        text = _read(root / name)
        if text is not None and _MAKE_TEST.search(text):
            return TestCommand("make test", name)
    return None


def _python_layout(root: Path) -> TestCommand | None:
    patterns = ("test_*.py", "*_test.py")
    tests = root / "tests"
    if tests.is_dir() and any(next(tests.rglob(p), None) for p in patterns):
        return TestCommand(_pytest(), "tests/")
    if any(next(root.glob(p), None) for p in patterns):
        return TestCommand(_pytest(), "test_*.py files")
    return None


# -- reading a test run ---------------------------------------------------------------------

_FAILURE_LINES = (
    re.compile(r"^(?:FAILED|ERROR) (\S+)"),  # pytest's short test summary
    re.compile(r"^\s*not ok \d+ - (.+?)\s*(?:#.*)?$"),  # TAP: node --test, tape
    re.compile(r"^\s*[✖✕] (.+?)(?: \([\d.]+ ?m?s\))?$"),  # node's spec reporter, jest
    re.compile(r"^FAIL (\S+)"),  # jest and vitest: the failing file
)


def failing_tests(output: str) -> tuple[str, ...]:
    """The names of the failing tests that the output names, in order, each once."""
    names: dict[str, None] = {}
    for line in output.splitlines():
        for pattern in _FAILURE_LINES:
            match = pattern.match(line)
            if match and not match.group(1).rstrip().endswith(":"):  # "✖ failing tests:"
                names[match.group(1).strip()] = None
                break
    return tuple(names)[:FAILURES_SHOWN]


def trim(text: str, budget: int = OUTPUT_BUDGET) -> str:
    """The text's head and tail within `budget` characters (the tail, the summary, gets more)."""
    if len(text) <= budget:
        return text
    head = budget * 2 // 5
    tail = budget - head
    return f"{text[:head]}\n[... {len(text) - budget} characters left out ...]\n{text[-tail:]}"


def _finished(call: ToolCall, test: TestCommand, result: ToolResult, cancelled: bool) -> VerifyFinished:
    output = "\n".join(p.text for p in result.content if p.type == "text")
    shown = dict(call_id=call.id, command=test.command, exit_code=result.exit_code)
    if cancelled or (result.is_error and result.error_kind != "timed_out" and result.exit_code is None):
        why = "cancelled" if cancelled else result.summary or output
        return VerifyFinished(**shown, outcome="not_run", summary=f"not run: {why}")
    if result.error_kind == "timed_out":
        return VerifyFinished(**shown, outcome="timed_out", summary=result.summary,
                              output=trim(output))
    if result.exit_code == 0:
        return VerifyFinished(**shown, outcome="passed", summary="the tests pass")
    if result.exit_code == PYTEST_NO_TESTS and "pytest" in test.command:
        return VerifyFinished(**shown, outcome="not_run", summary="pytest found no tests")
    failures = failing_tests(output)
    count = f"{len(failures)} failing" if failures else f"exit code {result.exit_code}"
    return VerifyFinished(**shown, outcome="failed", summary=f"the tests fail ({count})",
                          failures=failures, output=trim(output))


def failure_message(result: VerifyFinished) -> str:
    """What the model is told when the tests fail after its changes: names first, then output."""
    why = ("timed out and was killed" if result.outcome == "timed_out"
           else f"failed with exit code {result.exit_code}")
    lines = [f"The project's tests ran after your changes: `{result.command}` {why}."]
    if result.failures:
        lines.append("Failing tests: " + ", ".join(result.failures))
    lines += ["", "Output:", result.output.rstrip(), "",
              "Fix the code so that the tests pass (read the files before you edit them), then "
              "answer; the tests run again when you do."]
    return "\n".join(lines)


# -- running it -----------------------------------------------------------------------------


class Verifier:
    """One session's test runs: the command is looked up at each run (the model may add one)."""

    def __init__(self, root: Path, *, rounds: int, timeout: float, configured: str | None,
                 can_ask: bool) -> None:
        self.root, self.rounds, self.timeout = root, rounds, timeout
        self.configured, self.can_ask = configured, can_ask
        self._said_missing = False

    def run(self, agent: Agent) -> Generator[AgentEvent, Any, VerifyFinished | None]:
        """Run the tests once through the agent's registry; None when there are none to run."""
        test = find_test_command(self.root, self.configured)
        if test is None:
            if not self._said_missing:
                self._said_missing = True
                yield Notice(text="the changes were not tested: no test command found (say it in "
                             "AGENTS.md as Test: `command`, or set test_command)")
            return None
        call = ToolCall(name="run_shell", arguments={"command": test.command, "timeout": self.timeout})
        yield VerifyStarted(call_id=call.id, command=test.command, source=test.source)
        steps = agent.tools.run(call, agent.ctx)
        try:
            event = next(steps)
            while True:
                if isinstance(event, ApprovalNeeded) and not self.can_ask:
                    steps.close()  # nobody can answer: skip rather than have it denied
                    finished = VerifyFinished(
                        call_id=call.id, command=test.command, outcome="not_run",
                        summary=f"not run: it needs approval ({event.reason}) and this run "
                        "is headless")
                    yield finished
                    return finished
                yield event
                event = steps.send(None)
        except StopIteration as stop:
            result: ToolResult = stop.value
        finished = _finished(call, test, result, agent.ctx.cancel.is_set())
        yield finished
        return finished


def _turn(agent: Agent, user: UserMessage, seen: list[ToolFinished]) -> Generator[AgentEvent, Any, TurnDone]:
    """One run of the loop; its events but the TurnDone, which is returned."""
    done = TurnDone(reason="cancelled", steps=0)
    for event in run_turn(agent, user):
        if isinstance(event, TurnDone):
            done = event
            continue
        if isinstance(event, ToolFinished):
            seen.append(event)
        yield event
    return done


# Turns whose changes are tested: an answer, and a loop the repeat guard ended (the test
# output is news that can get a stuck model moving; out of steps or stopped, it is not asked).
_VERIFIED_ENDS = ("answered", "repeated")


def verified_turn(agent: Agent, user: UserMessage, verifier: Verifier | None,
                  changed: Callable[[], bool] | None = None) -> Iterator[AgentEvent]:
    """`run_turn`, and then, when the turn changed files, the tests; while they fail the model
    hears why and the turn goes on, up to `verifier.rounds` times.

    `changed` tells whether the turn changed files (the checkpoints know); without it, a
    turn changed files when one of its tool calls returned a diff.
    """
    seen: list[ToolFinished] = []
    done = yield from _turn(agent, user, seen)
    steps = done.steps
    if verifier is not None and done.reason in _VERIFIED_ENDS and (
            changed() if changed is not None else any(e.diff for e in seen)):
        for round_ in range(verifier.rounds + 1):
            result = yield from verifier.run(agent)
            if result is None or result.outcome not in ("failed", "timed_out"):
                break
            if round_ == verifier.rounds:
                after = (f" after {verifier.rounds} round{'s' if verifier.rounds != 1 else ''}"
                         " of fixing" if verifier.rounds else "")
                yield Notice(text=f"the tests still fail{after}")
                break
            message = failure_message(result)
            done = yield from _turn(agent, UserMessage.of(message), seen)
            steps += done.steps
            if done.reason not in _VERIFIED_ENDS:
                break
    yield done.model_copy(update={"steps": steps})
