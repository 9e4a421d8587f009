"""The agent loop end to end with the scripted backend, real files and real subprocesses."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

from gemma_code.agent.events import (
    ApprovalNeeded, ApprovalResolved, StepStarted, TextDelta, ToolCallStarted, ToolFinished,
    TurnDone, Usage,
)
from gemma_code.agent.loop import Agent, run_turn
from gemma_code.agent.messages import AssistantMessage, SystemMessage, ToolMessage, UserMessage
from gemma_code.agent.approval import DenyApprover
from gemma_code.agent.protocols import ApprovalDecision, GenerationOptions, ToolContext
from gemma_code.agent.registry import ToolRegistry
from gemma_code.agent.workspace import LocalWorkspace
from gemma_code.backends.scripted import ScriptedBackend
from gemma_code.tools import default_tools


class RecordingApprover:
    """A person at the keyboard who answers from a list and remembers what was asked."""

    def __init__(self, answers: list[ApprovalDecision]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    def decide(self, request):
        self.asked.append(request.tool)
        return self.answers.pop(0)


def make_agent(root: Path, turns: list[dict], mode="auto", approver=None, max_steps=10) -> Agent:
    cancel = threading.Event()
    return Agent(
        backend=ScriptedBackend.from_turns(turns, chunk_size=4),
        tools=ToolRegistry(default_tools(), mode, approver or DenyApprover()),
        ctx=ToolContext(LocalWorkspace(root), cancel, shell_timeout=60),
        options=GenerationOptions(cancel=cancel),
        max_steps=max_steps,
        messages=[SystemMessage(content="test")],
    )


FIX_TURNS = [
    {"text": "Let me look.", "tool_calls": [{"name": "read_file", "arguments": {"path": "calc.py"}}]},
    {"tool_calls": [{"name": "edit_file", "arguments": {
        "path": "calc.py", "old": "return a - b", "new": "return a + b"}}]},
    {"tool_calls": [{"name": "run_shell", "arguments": {"command": "python -m pytest -q"}}]},
    {"text": "Fixed `add`: it subtracted. The test passes now."},
]


def test_multi_step_task_reads_edits_and_runs_the_tests(repo: Path):
    agent = make_agent(repo, FIX_TURNS)
    events = list(run_turn(agent, UserMessage.of("fix the failing test")))

    assert (repo / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"
    results = [e for e in events if isinstance(e, ToolFinished)]
    assert [r.name for r in results] == ["read_file", "edit_file", "run_shell"]
    assert not any(r.is_error for r in results)
    assert all(r.error_kind is None for r in results)
    assert "return a - b" in results[0].text
    assert results[1].diff and "+    return a + b" in results[1].diff
    assert results[2].exit_code == 0 and "1 passed" in results[2].text
    assert events[-1] == TurnDone(reason="answered", steps=4)
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert text == "Let me look.Fixed `add`: it subtracted. The test passes now."
    assert sum(isinstance(e, Usage) for e in events) == 4
    assert sum(isinstance(e, StepStarted) for e in events) == 4
    # The model saw each tool's result before its next step.
    assert isinstance(agent.backend.seen[1][-1], ToolMessage)
    assert "return a - b" in agent.backend.seen[1][-1].text


def test_unknown_tool_and_bad_arguments_go_back_to_the_model(repo: Path):
    agent = make_agent(repo, [
        {"tool_calls": [{"name": "delete_everything", "arguments": {}}]},
        {"tool_calls": [{"name": "read_file", "arguments": {"path": 3, "bogus": True}}]},
        {"text": "Sorry."},
    ])
    events = list(run_turn(agent, UserMessage.of("go")))
    errors = [e for e in events if isinstance(e, ToolFinished)]
    assert all(e.is_error for e in errors)
    assert [e.error_kind for e in errors] == ["malformed", "malformed"]
    assert "unknown tool delete_everything; the tools are read_file" in errors[0].text
    assert "invalid arguments for read_file" in errors[1].text and "bogus" in errors[1].text
    assert events[-1].reason == "answered"


def test_step_limit_stops_a_model_that_never_answers(repo: Path):
    looping = {"tool_calls": [{"name": "list_files", "arguments": {}}]}
    agent = make_agent(repo, [looping] * 5, max_steps=3)
    events = list(run_turn(agent, UserMessage.of("go")))
    assert events[-1] == TurnDone(reason="max_steps", steps=3)
    assert agent.backend.turns_played == 3


def test_read_only_mode_refuses_every_mutation(repo: Path):
    agent = make_agent(repo, [
        {"tool_calls": [{"name": "write_file", "arguments": {"path": "x.txt", "content": "x"}}]},
        {"tool_calls": [{"name": "run_shell", "arguments": {"command": "touch y.txt"}}]},
        {"text": "ok"},
    ], mode="read-only")
    events = list(run_turn(agent, UserMessage.of("go")))
    results = [e for e in events if isinstance(e, ToolFinished)]
    assert all(r.is_error and "read-only" in r.text for r in results)
    assert not (repo / "x.txt").exists() and not (repo / "y.txt").exists()


def test_headless_ask_denies_and_tells_the_model(repo: Path):
    agent = make_agent(repo, [
        {"tool_calls": [{"name": "write_file", "arguments": {"path": "x.txt", "content": "x"}}]},
        {"text": "I could not write it."},
    ], mode="ask")
    events = list(run_turn(agent, UserMessage.of("go")))
    assert any(isinstance(e, ApprovalNeeded) for e in events)
    resolved = next(e for e in events if isinstance(e, ApprovalResolved))
    assert not resolved.approved
    result = next(e for e in events if isinstance(e, ToolFinished))
    assert result.is_error and "denied" in result.text and "headless" in result.text
    assert result.error_kind == "other"
    assert not (repo / "x.txt").exists()


def test_auto_edit_runs_edits_but_asks_for_shell_and_remembers_always(repo: Path):
    approver = RecordingApprover([
        ApprovalDecision(approved=True, remember=True),
    ])
    agent = make_agent(repo, [
        {"tool_calls": [{"name": "write_file", "arguments": {"path": "a.txt", "content": "a"}}]},
        {"tool_calls": [{"name": "run_shell", "arguments": {"command": "git status --short"}}]},
        {"tool_calls": [{"name": "run_shell", "arguments": {"command": "git status"}}]},
        {"tool_calls": [{"name": "run_shell", "arguments": {"command": "git status; touch z"}}]},
        {"text": "done"},
    ], mode="auto-edit", approver=approver)
    approver.answers.append(ApprovalDecision(approved=False, note="no chaining"))
    events = list(run_turn(agent, UserMessage.of("go")))
    assert (repo / "a.txt").read_text() == "a"
    # Asked once for `git status` (then remembered), and again for the chained command.
    assert approver.asked == ["run_shell", "run_shell"]
    results = [e for e in events if isinstance(e, ToolFinished)]
    assert [r.is_error for r in results] == [False, False, False, True]
    assert "no chaining" in results[3].text
    assert not (repo / "z").exists()


def test_cancel_between_calls_keeps_the_conversation_well_formed(repo: Path):
    agent = make_agent(repo, [
        {"tool_calls": [{"name": "list_files", "arguments": {}}]},
        {"text": "never reached"},
    ])
    events = []
    for event in run_turn(agent, UserMessage.of("go")):
        events.append(event)
        if isinstance(event, ToolCallStarted):
            agent.ctx.cancel.set()
    assert events[-1].reason == "cancelled"
    assert isinstance(agent.messages[-2], AssistantMessage)
    assert isinstance(agent.messages[-1], ToolMessage)


def test_run_shell_kills_a_hung_command_group(repo: Path):
    agent = make_agent(repo, [
        {"tool_calls": [{"name": "run_shell", "arguments": {
            "command": "sleep 307.25 & echo started; wait", "timeout": 1}}]},
        {"text": "it hung"},
    ])
    events = list(run_turn(agent, UserMessage.of("go")))
    result = next(e for e in events if isinstance(e, ToolFinished))
    assert result.is_error and "started" in result.text
    leftover = subprocess.run(["pgrep", "-f", "sleep 307.25"], capture_output=True, text=True)
    assert leftover.stdout.strip() == ""


def test_a_repeated_identical_call_tells_the_model_then_ends_the_loop(repo: Path):
    again = {"tool_calls": [{"name": "run_shell", "arguments": {"command": "echo hi >> log.txt"}}]}
    agent = make_agent(repo, [again] * 6)
    events = list(run_turn(agent, UserMessage.of("go")))
    results = [e.text for e in events if isinstance(e, ToolFinished)]
    assert "already made this exact call" not in results[0]
    assert "already made this exact call 1 time " in results[1]
    assert "already made this exact call 2 times" in results[2]
    # The note is part of what the model sees next.
    assert "answer the user" in agent.backend.seen[2][-1].text
    # The fourth identical call is not run, and the turn ends instead of burning steps.
    assert "not run" in results[3] and len(results) == 4
    refused = [e for e in events if isinstance(e, ToolFinished)][3]
    assert refused.error_kind == "repeated_call"
    assert events[-1] == TurnDone(reason="repeated", steps=4)
    assert (repo / "log.txt").read_text() == "hi\nhi\nhi\n"
    assert isinstance(agent.messages[-1], ToolMessage)


def test_running_the_same_command_after_each_change_is_not_a_repeat(repo: Path):
    # Edit, run, edit, run, ...: each run sees new code. The changes keep their own counts.
    run = {"tool_calls": [{"name": "run_shell", "arguments": {"command": "python calc.py"}}]}

    def append(n: int) -> dict:
        return {"tool_calls": [{"name": "write_file", "arguments": {
            "path": "calc.py", "content": f"print({n})\n"}}]}

    agent = make_agent(repo, [run, append(1), run, append(2), run, append(3), run, run, run, run],
                       max_steps=12)
    events = list(run_turn(agent, UserMessage.of("go")))
    results = [e for e in events if isinstance(e, ToolFinished)]
    assert [r.text.split("\n")[0] for r in results[2:7:2]] == ["1", "2", "3"]
    assert not any("already made" in r.text for r in results[:7])
    assert "already made this exact call 1 time " in results[7].text  # no change since
    assert events[-1] == TurnDone(reason="repeated", steps=10)


def test_an_edit_that_cannot_apply_fails_without_asking_anyone(repo: Path):
    approver = RecordingApprover([ApprovalDecision(approved=True)])
    agent = make_agent(repo, [
        {"tool_calls": [{"name": "edit_file", "arguments": {
            "path": "calc.py", "old": "print(summary(3))", "new": "print(str(summary(3)))"}}]},
        {"tool_calls": [{"name": "edit_file", "arguments": {
            "path": "calc.py", "old": "return a - b", "new": "return a + b"}}]},
        {"text": "done"},
    ], mode="ask", approver=approver)
    events = list(run_turn(agent, UserMessage.of("fix it")))
    results = [e for e in events if isinstance(e, ToolFinished)]
    assert results[0].is_error and "was not found in calc.py" in results[0].text
    assert results[0].error_kind == "edit_old_not_found"
    assert sum(isinstance(e, ApprovalNeeded) for e in events) == 1  # only the edit that applies
    assert approver.asked == ["edit_file"] and not results[1].is_error
    assert (repo / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"
