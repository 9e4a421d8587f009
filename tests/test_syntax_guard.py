"""Issue 20's syntax guard: an edit or write that breaks the syntax of a file that parsed is
refused with the error's line and the lines around it, and the file stays as it was. Also the
readings of an edit that keep code well-formed: `new` indented like the line `old` starts in,
read_file's line numbers taken out where a model copied them along."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from gemma_code.agent.config import Settings
from gemma_code.agent.events import ApprovalNeeded, ToolFinished, TurnDone
from gemma_code.agent.loop import Agent, run_turn
from gemma_code.agent.messages import SystemMessage, UserMessage
from gemma_code.agent.protocols import GenerationOptions, ToolContext, ToolError
from gemma_code.agent.registry import ToolRegistry
from gemma_code.agent.workspace import LocalWorkspace
from gemma_code.backends.scripted import ScriptedBackend
from gemma_code.tools import default_tools
from gemma_code.tools.edits import EditFile, WriteFile
from gemma_code.tools.grammars import MAX_FILE_BYTES

from .conftest import Yes, run_cli, write_script

PY = "def add(a, b):\n    return a - b\n\n\ndef sub(a, b):\n    return a - b\n"
JS = "function add(a, b) {\n  return a - b;\n}\n\nmodule.exports = { add };\n"
SH = "#!/bin/sh\nif [ -n \"$1\" ]; then\n  echo \"$1\"\nfi\n"


def context(root: Path, guard: bool = True) -> ToolContext:
    return ToolContext(LocalWorkspace(root), syntax_guard=guard)


def edit(root: Path, path: str, old: str, new: str, guard: bool = True):
    return EditFile()(EditFile.Args(path=path, old=old, new=new), context(root, guard))


def write(root: Path, path: str, content: str, guard: bool = True):
    return WriteFile()(WriteFile.Args(path=path, content=content), context(root, guard))


@pytest.mark.parametrize(("name", "content", "old", "new", "line"), [
    ("calc.py", PY, "return a - b\n\n\ndef sub", "return (a + b\n\n\ndef sub", 2),
    ("calc.js", JS, "return a - b;\n}", "return a + b;\n", 5),
    ("run.sh", SH, "fi\n", "done\n", 4),
    ("types.ts", "let m = 0;\nconst n: number = 1;\nexport { n };\n", "= 1;", "= (1;", 2),
])
def test_an_edit_that_breaks_the_syntax_is_refused_and_the_file_kept(
        tmp_path: Path, name: str, content: str, old: str, new: str, line: int):
    (tmp_path / name).write_text(content)
    with pytest.raises(ToolError) as refused:
        edit(tmp_path, name, old, new)
    message = str(refused.value)
    assert refused.value.kind == "syntax"
    assert f"would break the syntax of {name}: line {line}" in message
    assert f"{line - 1:6d}\t" in message and f"{line:6d}\t" in message  # numbered lines
    assert message.endswith("The file was not changed; fix the edit and send it again.")
    assert (tmp_path / name).read_text() == content


def test_the_refusal_shows_the_lines_as_the_edit_would_leave_them(tmp_path: Path):
    (tmp_path / "calc.py").write_text(PY)
    with pytest.raises(ToolError) as refused:
        edit(tmp_path, "calc.py", "def sub(a, b):", "def sub(a, b)")
    message = str(refused.value)
    assert "line 5" in message
    assert "     5\tdef sub(a, b)\n     6\t    return a - b" in message


def test_a_good_edit_is_applied(tmp_path: Path):
    (tmp_path / "calc.py").write_text(PY)
    result = edit(tmp_path, "calc.py", "return a - b\n\n\ndef sub", "return a + b\n\n\ndef sub")
    assert not result.is_error
    assert (tmp_path / "calc.py").read_text().startswith("def add(a, b):\n    return a + b\n")


def test_a_file_that_did_not_parse_before_is_edited_as_asked(tmp_path: Path):
    broken = "def add(a, b:\n    return a - b\n"
    (tmp_path / "calc.py").write_text(broken)
    edit(tmp_path, "calc.py", "return a - b", "return (a + b")
    assert (tmp_path / "calc.py").read_text() == "def add(a, b:\n    return (a + b\n"


def test_python_indentation_that_tree_sitter_reads_as_fine_is_refused(tmp_path: Path):
    (tmp_path / "calc.py").write_text(PY)
    with pytest.raises(ToolError) as refused:
        edit(tmp_path, "calc.py", "return a - b\n\n\ndef sub",
             "return a - b\n      x = 1\n\n\ndef sub")
    assert "line 3, unexpected indent" in str(refused.value)
    assert (tmp_path / "calc.py").read_text() == PY


def test_a_python_file_that_python_itself_rejected_is_edited_as_asked(tmp_path: Path):
    legacy = "print 'hi'\nx = 1\n"  # tree-sitter's grammar reads Python 2; Python does not
    (tmp_path / "old.py").write_text(legacy)
    edit(tmp_path, "old.py", "x = 1", "x = (1")
    assert (tmp_path / "old.py").read_text() == "print 'hi'\nx = (1\n"


def test_write_file_over_a_file_that_parsed_is_refused(tmp_path: Path):
    (tmp_path / "calc.js").write_text(JS)
    with pytest.raises(ToolError) as refused:
        write(tmp_path, "calc.js", "function add(a, b) {\n  return a + b;\n")
    assert refused.value.kind == "syntax" and (tmp_path / "calc.js").read_text() == JS


def test_a_new_file_is_written_even_with_a_syntax_error(tmp_path: Path):
    # Nothing parsed before, so there is nothing the write could break.
    write(tmp_path, "new.py", "def f(:\n")
    assert (tmp_path / "new.py").read_text() == "def f(:\n"


def test_with_the_guard_off_a_breaking_edit_is_written(tmp_path: Path):
    (tmp_path / "calc.py").write_text(PY)
    (tmp_path / "calc.js").write_text(JS)
    edit(tmp_path, "calc.py", "def sub(a, b):", "def sub(a, b)", guard=False)
    write(tmp_path, "calc.js", "function (", guard=False)
    assert "def sub(a, b)\n" in (tmp_path / "calc.py").read_text()
    assert (tmp_path / "calc.js").read_text() == "function (\n"


def test_the_setting_is_on_by_default_and_can_be_switched_off():
    assert Settings().syntax_guard is True
    assert Settings(syntax_guard=False).syntax_guard is False


def test_files_with_no_grammar_huge_or_binary_are_not_checked(tmp_path: Path):
    (tmp_path / "notes.txt").write_text("def f():\n    pass\n")
    edit(tmp_path, "notes.txt", "def f():", "def f(:")
    huge = "x = 1\n" * (MAX_FILE_BYTES // 6 + 1)
    (tmp_path / "big.py").write_text(huge)
    write(tmp_path, "big.py", huge + "def f(:\n")
    (tmp_path / "blob.py").write_bytes(b"x = 1\n\0\n")
    write(tmp_path, "blob.py", "def f(:\n")
    assert (tmp_path / "notes.txt").read_text() == "def f(:\n    pass\n"
    assert (tmp_path / "big.py").read_text().endswith("def f(:\n")
    assert (tmp_path / "blob.py").read_text() == "def f(:\n"


def edit_call(old: str, new: str) -> dict:
    return {"tool_calls": [{"name": "edit_file",
                            "arguments": {"path": "calc.py", "old": old, "new": new}}]}


def test_in_a_turn_a_broken_edit_is_refused_unasked_then_a_good_one_applied(tmp_path: Path):
    (tmp_path / "calc.py").write_text(PY)
    approver, cancel = Yes(), threading.Event()
    agent = Agent(
        backend=ScriptedBackend.from_turns([
            {"tool_calls": [{"name": "read_file", "arguments": {"path": "calc.py"}}]},
            edit_call("def add(a, b):", "def add(a, b"),
            edit_call("def add(a, b):\n    return a - b", "def add(a, b):\n    return a + b"),
            {"text": "fixed"},
        ]),
        tools=ToolRegistry(default_tools(), "ask", approver),
        ctx=ToolContext(LocalWorkspace(tmp_path), cancel, edit_guards=True, syntax_guard=True),
        options=GenerationOptions(cancel=cancel, temperature=0.0),
        max_steps=8, messages=[SystemMessage(content="test")],
    )
    events = list(run_turn(agent, UserMessage.of("fix add")))
    _, refused, applied = [e for e in events if isinstance(e, ToolFinished)]
    assert refused.is_error and refused.error_kind == "syntax"
    assert "line 1" in refused.text and "fix the edit and send it again" in refused.text
    # Only the edit that ran was put to the person.
    assert approver.asked == ["edit_file"]
    assert sum(isinstance(e, ApprovalNeeded) for e in events) == 1
    assert not applied.is_error
    assert (tmp_path / "calc.py").read_text() == PY.replace("return a - b", "return a + b", 1)
    assert events[-1] == TurnDone(reason="answered", steps=4)


@pytest.mark.parametrize("guard", ["true", "false"])
def test_the_setting_reaches_the_tools_of_a_real_session(repo: Path, isolated_env, guard: str):
    script = write_script(repo.parent / "script.json", [
        {"tool_calls": [{"name": "read_file", "arguments": {"path": "calc.py"}}]},
        edit_call("def add(a, b):", "def add(a, b"),
        {"text": "done"},
        {"text": "it cannot be made"},  # told, when the edit was refused, that nothing changed
    ])
    env = {**isolated_env, "GEMMA_CODE_SYNTAX_GUARD": guard, "GEMMA_CODE_VERIFY": "off"}
    proc = run_cli(["run", "--json", "--backend", "scripted", "--model", str(script),
                    "--approval", "auto", "fix add"], repo, env)
    assert proc.returncode == 0, proc.stderr
    edited = [e for e in map(json.loads, proc.stdout.splitlines())
              if e["type"] == "tool_result" and e["name"] == "edit_file"][0]
    if guard == "true":
        assert edited["error_kind"] == "syntax"
        assert (repo / "calc.py").read_text() == "def add(a, b):\n    return a - b\n"
    else:
        assert not edited["is_error"]
        assert (repo / "calc.py").read_text().startswith("def add(a, b\n")


# -- which indentation `new` is in, when `old` began after its line's indentation -------------

METHOD = "class Money:\n    def add(self, other):\n        return self.cents + other.cents\n"
GUARD = "def add(self, other):\n    if other is None:\n        raise TypeError('no')"


@pytest.mark.parametrize("guard", [True, False])
def test_new_written_from_column_0_is_indented_like_olds_line(tmp_path: Path, guard: bool):
    (tmp_path / "money.py").write_text(METHOD)
    result = edit(tmp_path, "money.py", "def add(self, other):", GUARD, guard=guard)
    assert (tmp_path / "money.py").read_text() == (
        "class Money:\n    def add(self, other):\n        if other is None:\n"
        "            raise TypeError('no')\n        return self.cents + other.cents\n")
    assert "indented by the same amount" in result.content[0].text


def test_new_already_in_the_files_indentation_is_kept_as_written(tmp_path: Path):
    (tmp_path / "money.py").write_text(METHOD)
    edit(tmp_path, "money.py", "def add(self, other):",
         "def add(self, other):\n        if other is None:\n            raise TypeError('no')")
    assert "\n        if other is None:\n            raise TypeError('no')\n" in (
        tmp_path / "money.py").read_text()


def test_the_reading_that_parses_is_kept(tmp_path: Path):
    # A sibling line written in the file's frame: shifted, it would be an unexpected indent.
    (tmp_path / "conf.py").write_text("def load():\n    x = 1\n    return x\n")
    edit(tmp_path, "conf.py", "x = 1", "x = 1\n    y = 2")
    assert (tmp_path / "conf.py").read_text() == "def load():\n    x = 1\n    y = 2\n    return x\n"


# -- read_file's line numbers, copied along into an edit or a write ---------------------------


def test_line_numbers_copied_into_old_and_new_are_taken_out(tmp_path: Path):
    (tmp_path / "calc.py").write_text(PY)
    result = edit(tmp_path, "calc.py", "     1\tdef add(a, b):\n     2\t    return a - b",
                  "     1\tdef add(a, b):\n     2\t    return a + b")
    assert (tmp_path / "calc.py").read_text() == PY.replace("a - b", "a + b", 1)
    assert not result.is_error


def test_line_numbers_copied_into_a_write_are_taken_out(tmp_path: Path):
    (tmp_path / "calc.py").write_text(PY)
    write(tmp_path, "calc.py", "     1\tdef add(a, b):\n     2\t    return a + b\n")
    assert (tmp_path / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"


@pytest.mark.parametrize("content", [
    "1\talice\n2\tbob\n",  # a TSV: not read_file's six-wide numbers
    "     1\tone\n     3\tthree\n",  # not consecutive
    "     1\tone\nplain line\n",  # not on every line
])
def test_text_that_only_looks_numbered_is_written_as_given(tmp_path: Path, content: str):
    write(tmp_path, "data.txt", content)
    assert (tmp_path / "data.txt").read_text() == content


# -- `old` a block's first line, `new` the whole block rewritten -------------------------------

CLOCK = ("'use strict';\n\nfunction formatClock(total) {\n  const m = Math.floor(total / 60);\n"
         "  return `${m}:${total % 60}`;\n}\n\nmodule.exports = { formatClock };\n")


def test_a_rewritten_function_given_with_only_its_header_replaces_the_function(tmp_path: Path):
    (tmp_path / "clock.js").write_text(CLOCK)
    new = ("function formatClock(total) {\n  const m = Math.floor(total / 60);\n"
           "  const s = String(total % 60).padStart(2, '0');\n  return `${m}:${s}`;\n}")
    result = edit(tmp_path, "clock.js", "function formatClock(total) {", new)
    assert (tmp_path / "clock.js").read_text() == (
        "'use strict';\n\n" + new + "\n\nmodule.exports = { formatClock };\n")
    assert "the whole block was replaced" in result.content[0].text


def test_a_method_rewritten_from_column_0_replaces_the_method(tmp_path: Path):
    (tmp_path / "money.py").write_text(METHOD + "\n    def sub(self, other):\n        return 0\n")
    edit(tmp_path, "money.py", "def add(self, other):",
         "def add(self, other):\n    total = self.cents + other.cents\n    return total")
    assert (tmp_path / "money.py").read_text() == (
        "class Money:\n    def add(self, other):\n        total = self.cents + other.cents\n"
        "        return total\n\n    def sub(self, other):\n        return 0\n")


def test_a_header_edit_that_parses_as_written_is_not_widened(tmp_path: Path):
    # Adding a line after the header is a whole, valid edit: the block is left alone.
    (tmp_path / "calc.py").write_text(PY)
    edit(tmp_path, "calc.py", "def add(a, b):", "def add(a, b):\n    a = int(a)")
    assert (tmp_path / "calc.py").read_text().startswith(
        "def add(a, b):\n    a = int(a)\n    return a - b\n")
