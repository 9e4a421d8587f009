"""A fix written as a code block in the answer, applied as the call that makes it (issue 20):
the whole file, or one function rewritten; real files, the scripted model, the real tools."""

from __future__ import annotations

import threading
from pathlib import Path

from gemma_code.agent.approval import DenyApprover
from gemma_code.agent.events import Notice, ToolCallStarted, ToolFinished, TurnDone
from gemma_code.agent.loop import Agent, run_turn
from gemma_code.agent.messages import AssistantMessage, SystemMessage, UserMessage
from gemma_code.agent.protocols import GenerationOptions, ToolContext
from gemma_code.agent.registry import ToolRegistry
from gemma_code.agent.workspace import LocalWorkspace
from gemma_code.backends.scripted import ScriptedBackend
from gemma_code.tools import default_tools

STATS = ("def mean(xs):\n    return sum(xs) / len(xs)\n\n\n"
         "def spread(xs):\n    lo = min(xs)\n    hi = max(xs)\n    return hi - lo\n\n\n"
         "def total(xs):\n    return sum(xs)\n")


def call(name: str, **arguments) -> dict:
    return {"tool_calls": [{"name": name, "arguments": arguments}]}


def agent_on(root: Path, turns: list[dict], tools: tuple[str, ...] | None = None) -> Agent:
    cancel = threading.Event()
    return Agent(
        backend=ScriptedBackend.from_turns(turns),
        tools=ToolRegistry(default_tools(tools), "auto", DenyApprover()),
        ctx=ToolContext(LocalWorkspace(root), cancel, shell_timeout=60, edit_guards=True,
                        syntax_guard=True),
        options=GenerationOptions(cancel=cancel, temperature=0.0),
        max_steps=6, messages=[SystemMessage(content="test")], prose_nudge=True,
    )


def answer(intro: str, code: str) -> dict:
    return {"text": f"{intro}\n\n```python\n{code}```\n\nThat should fix it."}


def setup(root: Path) -> Path:
    (root / "stats.py").write_text(STATS)
    return root / "stats.py"


def test_a_whole_file_in_the_answer_is_written(repo: Path):
    stats = setup(repo)
    fixed = STATS.replace("return sum(xs) / len(xs)", "return sum(xs) / len(xs) if xs else 0.0")
    agent = agent_on(repo, [call("read_file", path="stats.py"),
                            answer("Here is the updated `stats.py`:", fixed), {"text": "Done."}])
    events = list(run_turn(agent, UserMessage.of("mean of an empty list should be 0")))
    assert stats.read_text() == fixed
    started = [e.call for e in events if isinstance(e, ToolCallStarted)]
    assert [c.name for c in started] == ["read_file", "write_file"]
    assert any(isinstance(e, Notice) and "the answer writes the change to stats.py as code "
               "blocks; applying it with write_file" in e.text for e in events)
    assert events[-1] == TurnDone(reason="answered", steps=3)
    # The history reads as if the model had made the call: an answer with it, then its result.
    kept = next(m for m in agent.messages if isinstance(m, AssistantMessage) and m.tool_calls
                and m.tool_calls[0].name == "write_file")
    assert "That should fix it." in kept.text


def test_one_function_rewritten_replaces_only_that_function(repo: Path):
    stats = setup(repo)
    snippet = ("def spread(xs):\n    if not xs:\n        return 0\n    lo = min(xs)\n"
               "    hi = max(xs)\n    return hi - lo\n")
    agent = agent_on(repo, [call("read_file", path="stats.py"),
                            answer("Change spread:", snippet), {"text": "Done."}])
    list(run_turn(agent, UserMessage.of("spread of nothing should be 0")))
    expected = STATS.replace("def spread(xs):\n    lo", "def spread(xs):\n    if not xs:\n"
                             "        return 0\n    lo")
    assert stats.read_text() == expected


def test_with_edit_file_only_the_fix_is_applied_by_edit_file(repo: Path):
    stats = setup(repo)
    snippet = "def total(xs):\n    return sum(x for x in xs if x is not None)\n"
    agent = agent_on(repo, [call("read_file", path="stats.py"), answer("New total:", snippet),
                            {"text": "Done."}], tools=("read_file", "edit_file"))
    events = list(run_turn(agent, UserMessage.of("total should skip None")))
    assert [e.call.name for e in events if isinstance(e, ToolCallStarted)] == ["read_file", "edit_file"]
    assert stats.read_text().endswith("def total(xs):\n    return sum(x for x in xs if x is not None)\n")
    assert "def mean(xs):\n    return sum(xs) / len(xs)\n" in stats.read_text()


def test_a_fix_that_breaks_the_syntax_is_refused_and_the_model_told(repo: Path):
    stats = setup(repo)
    broken = "def spread(xs):\n    lo = min(xs\n    hi = max(xs)\n    return hi - lo\n"
    agent = agent_on(repo, [call("read_file", path="stats.py"), answer("Here:", broken),
                            {"text": "Sorry."}])
    events = list(run_turn(agent, UserMessage.of("fix spread")))
    refused = [e for e in events if isinstance(e, ToolFinished)][-1]
    assert refused.is_error and refused.error_kind == "syntax"
    assert stats.read_text() == STATS


def test_a_fix_for_a_file_not_read_shows_the_file_and_the_next_answer_is_applied(repo: Path):
    stats = setup(repo)
    fixed = STATS.replace("return sum(xs)\n", "return float(sum(xs))\n")
    agent = agent_on(repo, [answer("Updated stats.py:", fixed), {"text": "Done."}])
    events = list(run_turn(agent, UserMessage.of("total as a float")))
    refused = [e for e in events if isinstance(e, ToolFinished)][-1]
    assert refused.is_error and refused.error_kind == "unread_file"
    assert stats.read_text() == STATS
    # Shown the file, the model answers with its block again: now it is applied.
    agent = agent_on(repo, [answer("Updated stats.py:", fixed)] * 2 + [{"text": "Done."}])
    events = list(run_turn(agent, UserMessage.of("total as a float")))
    assert [e.error_kind for e in events if isinstance(e, ToolFinished)] == ["unread_file", None]
    assert stats.read_text() == fixed
    assert events[-1] == TurnDone(reason="answered", steps=3)


def test_code_that_is_no_version_of_a_file_is_left_alone(repo: Path):
    stats = setup(repo)
    usage = "from stats import mean\n\nprint(mean([1, 2, 3]))\n"
    agent = agent_on(repo, [call("read_file", path="stats.py"), answer("Like this:", usage)])
    events = list(run_turn(agent, UserMessage.of("how do I use mean?")))
    assert events[-1] == TurnDone(reason="answered", steps=2)
    # The file quoted as it is: nothing to apply (the model is asked once, as for prose).
    agent = agent_on(repo, [call("read_file", path="stats.py"), answer("It is:", STATS),
                            {"text": "It already works."}])
    events = list(run_turn(agent, UserMessage.of("does spread work?")))
    assert [e.call.name for e in events if isinstance(e, ToolCallStarted)] == ["read_file"]
    assert stats.read_text() == STATS


def test_blocks_for_two_files_are_both_applied_and_a_quoted_file_is_not(repo: Path):
    stats = setup(repo)
    (repo / "report.py").write_text("from stats import mean\n\n\ndef line(xs):\n"
                                    "    return f'mean {mean(xs)}'\n")
    fixed_stats = STATS.replace("return sum(xs) / len(xs)", "return sum(xs) / len(xs) if xs else 0.0")
    fixed_report = "def line(xs):\n    return f'mean {mean(xs):.2f}'\n"
    quoted = "# stats.py\n" + STATS.replace("\n\n\n", "\n\n")  # the file as it is, reflowed
    text = (f"First `stats.py`:\n\n```python\n{fixed_stats}```\n\nThen report.py:\n\n"
            f"```python\n{fixed_report}```\n\nFor reference, the old one:\n\n```python\n{quoted}```\n")
    agent = agent_on(repo, [call("read_file", path="stats.py"), call("read_file", path="report.py"),
                            {"text": text}, {"text": "Done."}])
    events = list(run_turn(agent, UserMessage.of("empty means are 0, and print two decimals")))
    assert [e.call.name for e in events if isinstance(e, ToolCallStarted)][2:] == ["write_file", "write_file"]
    assert stats.read_text() == fixed_stats  # the quoted copy after it did not undo the fix
    assert (repo / "report.py").read_text().endswith("return f'mean {mean(xs):.2f}'\n")
    assert "from stats import mean" in (repo / "report.py").read_text()
    assert events[-1] == TurnDone(reason="answered", steps=4)
