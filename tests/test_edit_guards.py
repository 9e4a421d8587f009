"""Issue 20's guards, each failure pattern of a small model replayed by the scripted backend
to its recovery: blind edits, old == new, repeated failed edits, several calls in a step, an
unknown tool, a fix written as prose, a repeat at temperature 0."""

from __future__ import annotations

import threading
from pathlib import Path

from gemma_code.agent.approval import DenyApprover
from gemma_code.agent.events import ApprovalNeeded, Notice, ToolFinished, TurnDone
from gemma_code.agent.loop import Agent, run_turn
from gemma_code.agent.messages import SystemMessage, UserMessage
from gemma_code.agent.protocols import GenerationOptions, ToolContext
from gemma_code.agent.prose_fix import NUDGE
from gemma_code.agent.registry import ToolRegistry
from gemma_code.agent.workspace import LocalWorkspace
from gemma_code.backends.scripted import ScriptedBackend
from gemma_code.tools import default_tools

from .conftest import Yes

BUGGY = "def add(a, b):\n    return a - b\n"
FIXED = "def add(a, b):\n    return a + b\n"


def guarded(root: Path, turns: list[dict], *, mode="auto", approver=None, guards=True,
            retry=0.7, temperature: float | None = 0.0) -> Agent:
    cancel = threading.Event()
    return Agent(
        backend=ScriptedBackend.from_turns(turns),
        tools=ToolRegistry(default_tools(), mode, approver or DenyApprover()),
        ctx=ToolContext(LocalWorkspace(root), cancel, shell_timeout=60, edit_guards=guards),
        options=GenerationOptions(cancel=cancel, temperature=temperature),
        max_steps=8, messages=[SystemMessage(content="test")],
        prose_nudge=guards, retry_temperature=retry if guards else 0.0,
    )


def results(events) -> list[ToolFinished]:
    return [e for e in events if isinstance(e, ToolFinished)]


def edit(old: str, new: str, path: str = "calc.py") -> dict:
    return {"tool_calls": [{"name": "edit_file", "arguments": {"path": path, "old": old, "new": new}}]}


def test_a_blind_edit_is_refused_before_approval_and_shows_the_file(repo: Path):
    approver = Yes()
    agent = guarded(repo, [edit("return a - b", "return a + b")] * 2 + [{"text": "done"}],
                    mode="ask", approver=approver)
    events = list(run_turn(agent, UserMessage.of("fix add")))
    first, second = results(events)
    assert first.is_error and first.error_kind == "unread_file"
    assert "you had not read calc.py: here it is; make the edit now." in first.text
    assert "     2\t    return a - b" in first.text
    # Nobody was asked about the call that did not run; the refusal counted as a read.
    assert sum(isinstance(e, ApprovalNeeded) for e in events) == 1 and approver.asked == ["edit_file"]
    assert not second.is_error and (repo / "calc.py").read_text() == FIXED


def test_write_file_over_an_unread_file_is_refused_but_a_new_file_is_written(repo: Path):
    write = {"tool_calls": [{"name": "write_file", "arguments": {"path": "calc.py", "content": FIXED}}]}
    new = {"tool_calls": [{"name": "write_file", "arguments": {"path": "new.py", "content": "x = 1\n"}}]}
    agent = guarded(repo, [write, new, write, {"text": "done"}])
    found = results(list(run_turn(agent, UserMessage.of("rewrite"))))
    assert found[0].error_kind == "unread_file" and "make the change now" in found[0].text
    assert [r.is_error for r in found[1:]] == [False, False]
    assert (repo / "calc.py").read_text() == FIXED and (repo / "new.py").is_file()


def test_a_blind_edit_of_a_secret_file_does_not_show_it(repo: Path):
    (repo / ".env").write_text("TOKEN=hunter2\n")
    agent = guarded(repo, [edit("TOKEN=hunter2", "TOKEN=x", ".env"), {"text": "ok"}])
    error = results(list(run_turn(agent, UserMessage.of("rotate"))))[0]
    assert error.error_kind == "unread_file" and "read it with read_file first" in error.text
    assert "hunter2" not in error.text and (repo / ".env").read_text() == "TOKEN=hunter2\n"


def test_without_the_guards_a_blind_edit_runs(repo: Path):
    agent = guarded(repo, [edit("return a - b", "return a + b"), {"text": "done"}], guards=False)
    assert not results(list(run_turn(agent, UserMessage.of("fix"))))[0].is_error
    assert (repo / "calc.py").read_text() == FIXED


READ = {"tool_calls": [{"name": "read_file", "arguments": {"path": "calc.py"}}]}


def test_old_equal_to_new_shows_the_place_in_the_file(repo: Path):
    agent = guarded(repo, [READ, edit("return a - b", "return a - b"), {"text": "stuck"},
                           {"text": "still stuck"}])
    error = results(list(run_turn(agent, UserMessage.of("fix"))))[1]
    assert error.error_kind == "edit_old_equals_new"
    assert "`old` and `new` are the same" in error.text
    assert "Lines 1-2 of the file as it is now:\n     1\tdef add(a, b):\n     2\t    return a - b" in error.text


def test_a_second_failed_edit_of_a_file_asks_for_write_file(repo: Path):
    agent = guarded(repo, [
        READ, edit("total = compute(a, b)", "return a + b"), edit("y = other(a)", "return a + b"),
        {"tool_calls": [{"name": "write_file", "arguments": {"path": "calc.py", "content": FIXED}}]},
        {"text": "fixed"},
    ])
    events = list(run_turn(agent, UserMessage.of("fix")))
    _, first, second, write = results(events)
    assert first.error_kind == "edit_old_not_found" and "closest lines" in first.text
    assert "write_file" not in first.text.split("closest")[0]
    assert second.error_kind == "edit_old_not_found"
    assert ("`old` was not found. This is failed edit 2 of calc.py in this turn: here is the whole "
            "file; send the whole new content with write_file.") in second.text
    assert "     1\tdef add(a, b):" in second.text
    assert not write.is_error and (repo / "calc.py").read_text() == FIXED


def read(path: str) -> dict:
    return {"tool_calls": [{"name": "read_file", "arguments": {"path": path}}]}


def test_an_edit_naming_the_wrong_file_is_made_in_the_read_file_that_holds_old(repo: Path):
    (repo / "shapes.py").write_text("def area(w, h):\n    return w + h\n")
    (repo / "notes.py").write_text("def area(w, h):\n    return w + h\n")  # never read
    agent = guarded(repo, [READ, read("shapes.py"), edit("return w + h", "return w * h"),
                           edit("def area(w, h):\n    return w + h", "def area(w, h):\n    return w * h"),
                           {"text": "done"}])
    events = list(run_turn(agent, UserMessage.of("fix area")))
    one_line, moved = results(events)[2:]
    assert one_line.error_kind == "edit_old_not_found"  # one line says little: not moved
    assert not moved.is_error, moved.text
    assert moved.text.startswith("edited shapes.py (+1 -1). `old` is not in calc.py but in "
                                 "shapes.py, which you read: edited shapes.py.")
    assert (repo / "shapes.py").read_text() == "def area(w, h):\n    return w * h\n"
    assert (repo / "calc.py").read_text() == BUGGY
    assert (repo / "notes.py").read_text() == "def area(w, h):\n    return w + h\n"


def test_an_edit_is_not_moved_when_several_read_files_hold_old_or_into_settings(repo: Path):
    for name in ("a.py", "b.py", ".gemma-code.toml"):
        (repo / name).write_text("# mode = 1\n# size = 2\n")
    change = edit("# mode = 1\n# size = 2", "# mode = 2\n# size = 2")
    agent = guarded(repo, [READ, read("a.py"), read("b.py"), change,
                           {"text": "done"}, {"text": "done"}])
    failed = results(list(run_turn(agent, UserMessage.of("change the mode"))))[3]
    assert failed.error_kind == "edit_old_not_found"
    assert (repo / "a.py").read_text() == (repo / "b.py").read_text() == "# mode = 1\n# size = 2\n"
    agent = guarded(repo, [READ, read(".gemma-code.toml"), change,
                           {"text": "done"}, {"text": "done"}])
    failed = results(list(run_turn(agent, UserMessage.of("change the mode"))))[2]
    assert failed.error_kind == "edit_old_not_found"
    assert (repo / ".gemma-code.toml").read_text() == "# mode = 1\n# size = 2\n"


def test_an_edit_already_made_shows_what_is_there(repo: Path):
    agent = guarded(repo, [READ, edit("return a - b", "return a + b"),
                           edit("return a - b", "return a + b"), {"text": "done"}], retry=0)
    error = results(list(run_turn(agent, UserMessage.of("fix"))))[2]
    assert error.error_kind == "edit_already_made"
    assert "     2\t    return a + b" in error.text and "Do not repeat it" in error.text


def test_several_calls_in_one_step_run_one_at_a_time(repo: Path):
    both = {"tool_calls": [
        {"name": "read_file", "arguments": {"path": "calc.py"}},
        {"name": "edit_file", "arguments": {"path": "calc.py", "old": "a - b", "new": "a + b"}},
    ]}
    agent = guarded(repo, [both, {"text": "read it"}])
    events = list(run_turn(agent, UserMessage.of("fix")))
    read, skipped = results(events)
    assert not read.is_error and skipped.error_kind == "extra_call"
    assert skipped.text.startswith("Error: not run: one call at a time.")
    assert (repo / "calc.py").read_text() == BUGGY  # the edit never ran
    assert events[-1] == TurnDone(reason="answered", steps=2)


def test_an_unknown_tool_is_answered_with_the_tool_list(repo: Path):
    agent = guarded(repo, [{"tool_calls": [{"name": "read", "arguments": {"path": "calc.py"}}]},
                           READ, {"text": "ok"}])
    events = list(run_turn(agent, UserMessage.of("read calc.py")))
    unknown = results(events)[0]
    assert unknown.error_kind == "malformed"
    assert "unknown tool read; the tools are read_file, list_files" in unknown.text
    assert not results(events)[1].is_error


PROSE = "The bug is in `add`. Here is the fix:\n\n```python\ndef add(a, b):\n    return a + b\n```\n"


def test_a_fix_written_as_prose_is_nudged_once(repo: Path):
    # A block that is no version of any file (tests/test_prose_fix.py applies those).
    prose = "Fix it like this:\n\n```python\n# calc.py: make add use a plus\nresult = add(2, 3)\n```\n"
    agent = guarded(repo, [READ, {"text": prose}, {"text": prose}])
    events = list(run_turn(agent, UserMessage.of("fix add")))
    assert events[-1] == TurnDone(reason="answered", steps=3)  # once, never a loop
    assert agent.backend.seen[2][-1] == UserMessage.of(NUDGE)
    assert "Apply it with edit_file or write_file" in NUDGE
    assert sum(isinstance(e, Notice) for e in events) == 1


def test_a_prose_fix_that_was_applied_or_names_no_file_is_not_nudged(repo: Path):
    unrelated = "Use a list:\n\n```python\nitems = [value for value in range(10)]\n```\n"
    agent = guarded(repo, [{"text": unrelated}])
    assert list(run_turn(agent, UserMessage.of("how?")))[-1].reason == "answered"
    applied = guarded(repo, [READ, edit("return a - b", "return a + b"), {"text": PROSE}])
    assert list(run_turn(applied, UserMessage.of("fix")))[-1] == TurnDone(reason="answered", steps=3)
    off = guarded(repo, [{"text": PROSE}], guards=False)
    assert list(run_turn(off, UserMessage.of("fix")))[-1].steps == 1


def test_an_answer_after_only_refused_edits_is_told_nothing_changed_once(repo: Path):
    agent = guarded(repo, [READ, edit("total = compute(a, b)", "return a + b"),
                           {"text": "Fixed it."}, {"text": "Fixed it."}], retry=0)
    events = list(run_turn(agent, UserMessage.of("fix add")))
    assert events[-1] == TurnDone(reason="answered", steps=4)  # once, never a loop
    told = agent.backend.seen[3][-1]
    assert told == UserMessage.of(
        "No file has changed in this turn: your edits of calc.py were refused, so the task is "
        "not done. Make the change (write_file with the whole new content works where "
        "edit_file keeps failing), or say why it cannot be made.")
    assert (repo / "calc.py").read_text() == BUGGY
    made = guarded(repo, [READ, edit("total = compute(a, b)", "return a + b"),
                          edit("return a - b", "return a + b"), {"text": "Fixed it."}])
    assert list(run_turn(made, UserMessage.of("fix")))[-1] == TurnDone(reason="answered", steps=4)


def test_a_repeat_at_temperature_0_is_sampled_again_hotter(repo: Path):
    agent = guarded(repo, [READ, READ, edit("return a - b", "return a + b"), {"text": "done"}])
    events = list(run_turn(agent, UserMessage.of("fix")))
    assert agent.backend.temperatures == [0.0, 0.0, 0.7, 0.0]
    assert [r.name for r in results(events)] == ["read_file", "edit_file"]
    assert (repo / "calc.py").read_text() == FIXED
    # The discarded step is not in the conversation: the resample saw the same messages.
    assert agent.backend.seen[1] == agent.backend.seen[2]
    assert events[-1] == TurnDone(reason="answered", steps=3)


def test_an_empty_answer_from_resampling_leaves_the_repeat_to_its_guard(repo: Path):
    # A hotter sample that says nothing would end the turn with no answer: the repeat runs
    # instead (with its note), and the model goes on.
    agent = guarded(repo, [READ, READ, {"text": ""}, edit("return a - b", "return a + b"),
                           {"text": "done"}])
    events = list(run_turn(agent, UserMessage.of("fix")))
    assert [r.name for r in results(events)] == ["read_file", "read_file", "edit_file"]
    assert "already made this exact call" in results(events)[1].text
    assert (repo / "calc.py").read_text() == FIXED
    assert events[-1] == TurnDone(reason="answered", steps=4)


def test_a_repeat_that_resampling_does_not_break_still_ends_the_turn(repo: Path):
    agent = guarded(repo, [READ] * 8)
    events = list(run_turn(agent, UserMessage.of("fix")))
    assert events[-1].reason == "repeated"
    assert agent.backend.temperatures[:3] == [0.0, 0.0, 0.7]
