"""Per-model profiles (issue 19): the tools a model is offered, from its registry entry or the
`tools` setting, and the system prompt that names only those; and the whole-file write guard
that keeps a write from losing the code a placeholder comment stands for."""

from __future__ import annotations

from pathlib import Path

import pytest

from gemma_code.agent.approval import DenyApprover
from gemma_code.agent.config import ConfigError, Settings, load_settings
from gemma_code.agent.events import ToolFinished
from gemma_code.agent.messages import UserMessage
from gemma_code.agent.protocols import AgentProfile
from gemma_code.agent.session import Session
from gemma_code.backends.models.registry import load_registry
from gemma_code.backends.scripted import ScriptedBackend
from gemma_code.tools import TOOL_NAMES, default_tools
from gemma_code.tools.elision import placeholder_lines
from gemma_code.tools.matching import without_wrapper

WHOLE_FILE = ("read_file", "list_files", "grep", "write_file", "run_shell")
MODULE = "".join(f"def f{i}(x):\n    return x + {i}\n\n" for i in range(10))


def call(name: str, **arguments) -> dict:
    return {"tool_calls": [{"name": name, "arguments": arguments}]}


def session(root: Path, turns: list[dict], profile=AgentProfile(), **settings) -> tuple[Session, ScriptedBackend]:
    backend = ScriptedBackend.from_turns(turns)
    backend.profile = profile
    chosen = Settings(model="scripted", checkpoints=False, approval="auto", verify="off", **settings)
    return Session(chosen, backend, root, DenyApprover()), backend


def finished(events) -> list[ToolFinished]:
    return [e for e in events if isinstance(e, ToolFinished)]


def test_the_tool_names_are_the_tools():
    assert [tool.name for tool in default_tools()] == list(TOOL_NAMES)


def test_every_registry_profile_names_only_real_tools():
    for spec in load_registry().values():
        assert spec.profile.tools is None or set(spec.profile.tools) <= set(TOOL_NAMES), spec.name


def test_a_profile_offers_its_tools_and_the_prompt_names_only_those(repo: Path):
    (repo / "mod.py").write_text(MODULE)
    turns = [call("edit_file", path="mod.py", old="x + 1", new="x + 100"), {"text": "done"}]
    run, backend = session(repo, turns, AgentProfile(tools=WHOLE_FILE))
    events = list(run.run(UserMessage.of("make f1 add 100")))
    assert backend.offered[0] == list(WHOLE_FILE)
    system = backend.seen[0][0].content
    assert "whole new content with write_file" in system and "edit_file" not in system
    refused, = finished(events)
    assert refused.is_error and "unknown tool edit_file" in refused.content[0].text
    assert (repo / "mod.py").read_text() == MODULE


def test_the_tools_setting_wins_over_the_profile(repo: Path):
    run, backend = session(repo, [{"text": "hi"}], AgentProfile(tools=WHOLE_FILE),
                           tools=("read_file", "edit_file"))
    list(run.run(UserMessage.of("hello")))
    assert backend.offered[0] == ["read_file", "edit_file"]
    assert "Change files with edit_file" in backend.seen[0][0].content
    everything, backend = session(repo, [{"text": "hi"}])
    list(everything.run(UserMessage.of("hello")))
    assert backend.offered[0] == list(TOOL_NAMES)


def test_the_tools_setting_from_the_environment_and_its_errors(tmp_path: Path):
    settings, sources = load_settings(tmp_path, environ={"GEMMA_CODE_TOOLS": "read_file, write_file"})
    assert settings.tools == ("read_file", "write_file") and sources["tools"] == "environment"
    settings, _ = load_settings(tmp_path, environ={"GEMMA_CODE_TOOLS": "none"})
    assert settings.tools is None
    with pytest.raises(ConfigError, match="unknown tool edit; the tools are read_file"):
        load_settings(tmp_path, environ={"GEMMA_CODE_TOOLS": "read_file,edit"})


def test_a_whole_file_write_that_leaves_code_behind_a_placeholder_is_refused(repo: Path):
    (repo / "mod.py").write_text(MODULE)
    lazy = "def f0(x):\n    return x + 100\n\n# ... rest of the code unchanged ...\n"
    complete = MODULE.replace("return x + 0\n", "return x + 100\n")
    turns = [call("read_file", path="mod.py"), call("write_file", path="mod.py", content=lazy),
             call("write_file", path="mod.py", content=complete), {"text": "done"}]
    run, _ = session(repo, turns, AgentProfile(tools=WHOLE_FILE))
    _, refused, written = finished(list(run.run(UserMessage.of("make f0 add 100"))))
    assert refused.is_error and refused.error_kind == "elided"
    text = refused.content[0].text
    assert "line 4" in text and "rest of the code unchanged" in text and "lose 26 lines" in text
    assert not written.is_error
    assert (repo / "mod.py").read_text() == complete


@pytest.mark.parametrize("old, new", [
    (MODULE, "# rest of the code\n" + MODULE),  # the file grows: nothing was left out
    ("# ... rest of the code unchanged ...\n" + MODULE,
     "# ... rest of the code unchanged ...\ndef f0(x):\n    return 1\n"),  # the file had it
    (MODULE, "def f0(x):\n    return 1\n# TODO: keep the cache warm\n"),  # no ellipsis, no "of the code"
    (MODULE, MODULE.replace("    return x + 0\n", "    ...\n")),  # a stub's body, no line lost
    (MODULE, "def f0(x):\n    return [1, ...]\n"),  # an ellipsis inside code
])
def test_what_the_placeholder_guard_lets_through(old: str, new: str):
    assert placeholder_lines(old, new) == []


@pytest.mark.parametrize("line", [
    "# ... rest of the code unchanged ...", "// ... existing code ...", "    # remaining methods …",
    "/* ... other functions as before */", "<!-- rest of the file -->", "# rest of the class",
    "...", "    …", "# ...", "/* ... */",
])
def test_placeholders_in_several_languages_are_found(line: str):
    assert placeholder_lines(MODULE, f"x = 1\n{line}\n") == [(2, line.strip())]


@pytest.mark.parametrize("content, path, expected", [
    ("```python\nx = 1\n```\n", "a.py", "x = 1\n"),
    ("```\nx = 1\n```", "a.sh", "x = 1\n"),
    ("<pre><code>from a import b\nx = 1 &lt; 2\n</code></pre>", "a.py", "from a import b\nx = 1 < 2\n"),
    ("```python\nx = 1\n```\n", "notes.md", "```python\nx = 1\n```\n"),  # Markdown may mean it
    ("<pre><code>x</code></pre>", "page.html", "<pre><code>x</code></pre>"),
    ("x = 1\n```\ny\n```\n", "a.py", "x = 1\n```\ny\n```\n"),  # not around all of it
    ("```py\na\n```\nprose\n```\nb\n```\n", "a.py", "```py\na\n```\nprose\n```\nb\n```\n"),  # two blocks
])
def test_a_chat_wrapper_around_a_whole_file_is_taken_off(content: str, path: str, expected: str):
    assert without_wrapper(content, path) == expected


def test_a_fenced_write_lands_as_plain_code(repo: Path):
    turns = [call("read_file", path="calc.py"),
             call("write_file", path="calc.py", content="```python\ndef add(a, b):\n    return a + b\n```"),
             {"text": "done"}]
    run, _ = session(repo, turns)
    _, written = finished(list(run.run(UserMessage.of("fix add"))))
    assert not written.is_error
    assert (repo / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"


def test_newlines_escaped_twice_in_a_write_are_read_as_newlines_only_where_that_parses(repo: Path):
    (repo / "mod.py").write_text(MODULE)
    twice = MODULE.replace("def f1(x):\n    return x + 1\n", "def f1(x):\\n    return x + 10\n")
    literal = MODULE.replace("return x + 2\n", 'return "a\\nb"\n')  # a real `\n` in a string
    turns = [call("read_file", path="mod.py"), call("write_file", path="mod.py", content=twice),
             call("write_file", path="mod.py", content=literal), {"text": "done"}]
    run, _ = session(repo, turns)
    _, first, second = finished(list(run.run(UserMessage.of("make f1 add 10"))))
    assert not first.is_error and not second.is_error
    assert (repo / "mod.py").read_text() == literal
    # written as meant, not as one broken line: the diff changes one line and adds none
    assert "+    return x + 10" in first.diff and "-    return x + 1\n" in first.diff
    assert "\\n" not in first.diff


def test_an_edit_whose_new_text_escaped_its_newlines_twice_is_read_as_meant(repo: Path):
    (repo / "mod.py").write_text(MODULE)
    new = "    if x is None:\\n        return 1\\n    return x + 1"
    turns = [call("read_file", path="mod.py"),
             call("edit_file", path="mod.py", old="    return x + 1", new=new), {"text": "done"}]
    run, _ = session(repo, turns)
    _, edited = finished(list(run.run(UserMessage.of("f1 of None is 1"))))
    assert not edited.is_error
    assert "def f1(x):\n    if x is None:\n        return 1\n    return x + 1\n" in (repo / "mod.py").read_text()


def test_a_profile_sets_the_context_budgets_and_the_settings_win(repo: Path):
    from gemma_code.agent.context import budgets

    small = AgentProfile(repo_map_tokens=256, context_files_tokens=0)
    assert budgets(Settings(), 32768, small) == (256, 0)
    assert budgets(Settings(repo_map_tokens=100), 32768, small) == (100, 0)
    assert budgets(Settings(), 32768) == (1024, 4096)
    (repo / "mod.py").write_text(MODULE)
    run, backend = session(repo, [{"text": "ok"}], small)
    list(run.run(UserMessage.of("what does f3 in mod.py do?")))
    first = backend.seen[0][1].text
    assert "mod.py" in first and "Files this message points at" not in first  # map, no files


def test_a_second_refused_write_of_a_file_shows_the_whole_file(repo: Path):
    (repo / "mod.py").write_text(MODULE)
    broken = "  4: def f0(x):\n  9: def f1(x):\n"  # map lines written as code
    turns = [call("read_file", path="mod.py"), call("write_file", path="mod.py", content=broken),
             call("write_file", path="mod.py", content=broken + "\n"), {"text": "stuck"},
             {"text": "still stuck"}]  # told after the first answer that nothing changed
    run, _ = session(repo, turns)
    _, first, second = finished(list(run.run(UserMessage.of("fix f1"))))
    assert first.error_kind == second.error_kind == "syntax"
    assert "here is the whole file" not in first.content[0].text
    text = second.content[0].text
    assert "failed edit 2 of mod.py in this turn: here is the whole file" in text
    assert "return x + 9" in text and "return x + 9" not in first.content[0].text
    assert (repo / "mod.py").read_text() == MODULE
