"""read_file, write_file and edit_file on real files in a temporary workspace."""

from __future__ import annotations

import os
import stat
import time
import tracemalloc
from pathlib import Path

import pytest

from gemma_code.agent.protocols import ToolContext, ToolError
from gemma_code.agent.workspace import LocalWorkspace
from gemma_code.tools import default_tools
from gemma_code.tools.base import tool_spec
from gemma_code.tools.edits import EditFile, WriteFile
from gemma_code.tools.files import ReadFile


@pytest.fixture
def ctx(tmp_path: Path) -> ToolContext:
    return ToolContext(workspace=LocalWorkspace(tmp_path))


def run(tool, ctx: ToolContext, **kwargs):
    return tool(tool.Args(**kwargs), ctx)


def text_of(result) -> str:
    return result.content[0].text


@pytest.fixture(scope="module")
def big_file(tmp_path_factory) -> Path:
    """A 50 MB text file of numbered lines (about 1.6 million of them)."""
    path = tmp_path_factory.mktemp("big") / "big.txt"
    line_count, block = 0, []
    with path.open("w") as f:
        while f.tell() < 50_000_000:
            block = [
                f"line {i} some filler text here\n" for i in range(line_count, line_count + 50_000)
            ]
            f.write("".join(block))
            line_count += len(block)
    return path


# --- read_file -------------------------------------------------------------------------


def test_read_numbers_lines_and_summarizes(ctx, tmp_path):
    (tmp_path / "a.py").write_text("one\ntwo\nthree\n")
    result = run(ReadFile(), ctx, path="a.py")
    assert text_of(result) == "     1\tone\n     2\ttwo\n     3\tthree\n"
    assert result.summary == "read a.py lines 1-3 of 3"
    assert not result.is_error


def test_read_window_says_how_to_read_more(ctx, tmp_path):
    (tmp_path / "a.txt").write_text("".join(f"l{i}\n" for i in range(1, 101)))
    result = run(ReadFile(), ctx, path="a.txt", offset=10, limit=5)
    text = text_of(result)
    assert text.startswith("    10\tl10\n")
    assert "    14\tl14\n" in text and "l15" not in text
    assert "86 more lines; call read_file with offset=15" in text
    assert result.summary == "read a.txt lines 10-14 of 100"


def test_read_last_line_without_newline_counts(ctx, tmp_path):
    (tmp_path / "a.txt").write_text("a\nb")
    result = run(ReadFile(), ctx, path="a.txt")
    assert text_of(result) == "     1\ta\n     2\tb\n"
    assert result.summary.endswith("of 2")


def test_read_caps_lines_at_2000(ctx, tmp_path):
    (tmp_path / "many.txt").write_text("x\n" * 5000)
    text = text_of(run(ReadFile(), ctx, path="many.txt", limit=10_000))
    assert "  2000\tx" in text and "  2001\t" not in text
    assert "3000 more lines; call read_file with offset=2001" in text


def test_read_caps_bytes_and_truncates_long_lines(ctx, tmp_path):
    (tmp_path / "wide.txt").write_text(("y" * 1500 + "\n") * 200 + "z" * 50_000 + "\n")
    text = text_of(run(ReadFile(), ctx, path="wide.txt"))
    assert len(text) < 110_000
    assert "more lines; call read_file with offset=" in text
    long = text_of(run(ReadFile(), ctx, path="wide.txt", offset=201))
    assert "line truncated, 48000 more bytes" in long
    assert len(long) < 3000


def test_read_offset_past_end_is_an_error(ctx, tmp_path):
    (tmp_path / "a.txt").write_text("a\nb\n")
    with pytest.raises(ToolError, match=r"past the end.*2 lines"):
        run(ReadFile(), ctx, path="a.txt", offset=10)


def test_read_empty_file(ctx, tmp_path):
    (tmp_path / "empty.txt").write_text("")
    assert "empty" in text_of(run(ReadFile(), ctx, path="empty.txt"))


def test_read_missing_file_suggests_close_names(ctx, tmp_path):
    (tmp_path / "config.py").write_text("x = 1\n")
    with pytest.raises(ToolError, match=r"file not found: confg\.py.*did you mean: config\.py"):
        run(ReadFile(), ctx, path="confg.py")


def test_read_directory_points_to_list_files(ctx, tmp_path):
    (tmp_path / "src").mkdir()
    with pytest.raises(ToolError, match=r"is a directory.*list_files"):
        run(ReadFile(), ctx, path="src")


def test_read_refuses_binary_and_images(ctx, tmp_path):
    (tmp_path / "blob.dat").write_bytes(b"abc\0def" * 10)
    (tmp_path / "mod.pyc").write_bytes(b"plain bytes but a binary type")
    (tmp_path / "shot.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    with pytest.raises(ToolError, match="binary file"):
        run(ReadFile(), ctx, path="blob.dat")
    with pytest.raises(ToolError, match="binary file"):
        run(ReadFile(), ctx, path="mod.pyc")
    with pytest.raises(ToolError, match="view_image"):
        run(ReadFile(), ctx, path="shot.png")


def test_read_latin1_uses_replacement_and_a_note(ctx, tmp_path):
    (tmp_path / "old.txt").write_bytes("café\nnaïve\n".encode("latin-1"))
    text = text_of(run(ReadFile(), ctx, path="old.txt"))
    assert "not valid UTF-8" in text
    assert "caf\ufffd" in text and "na\ufffdve" in text


def test_read_crlf_file_shows_clean_lines(ctx, tmp_path):
    (tmp_path / "win.txt").write_bytes(b"a\r\nb\r\n")
    assert text_of(run(ReadFile(), ctx, path="win.txt")) == "     1\ta\n     2\tb\n"


def test_read_refuses_paths_outside_the_workspace(ctx, tmp_path):
    with pytest.raises(ToolError, match="outside the workspace"):
        run(ReadFile(), ctx, path="../secret.txt")
    with pytest.raises(ToolError, match="outside the workspace"):
        run(ReadFile(), ctx, path="/etc/passwd")


def test_read_50mb_file_streams_a_window(ctx, tmp_path, big_file):
    target = tmp_path / "big.txt"
    os.link(big_file, target)
    tracemalloc.start()
    result = run(ReadFile(), ctx, path="big.txt", offset=1_000_000, limit=3)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    text = text_of(result)
    assert text.startswith("1000000\tline 999999 some filler text here\n")
    assert "offset=1000003" in text
    assert peak < 5_000_000, f"peak Python memory {peak} bytes: the file was loaded whole"


# --- write_file ------------------------------------------------------------------------


def test_write_creates_file_and_parents(ctx, tmp_path):
    result = run(WriteFile(), ctx, path="pkg/sub/new.py", content="print('hi')\n")
    assert (tmp_path / "pkg/sub/new.py").read_text() == "print('hi')\n"
    assert result.summary == "created pkg/sub/new.py (1 lines)"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE((tmp_path / "pkg/sub/new.py").stat().st_mode) == 0o666 & ~umask


def test_write_overwrite_returns_diff_and_leaves_no_temp_files(ctx, tmp_path):
    (tmp_path / "a.py").write_text("a = 1\nb = 2\n")
    result = run(WriteFile(), ctx, path="a.py", content="a = 1\nb = 3\nc = 4\n")
    assert (tmp_path / "a.py").read_text() == "a = 1\nb = 3\nc = 4\n"
    assert "-b = 2\n+b = 3\n+c = 4" in result.diff
    assert "+c = 4" in text_of(result)
    assert result.summary == "wrote a.py (+2 -1)"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.py"]


def test_write_keeps_mode(ctx, tmp_path):
    script = tmp_path / "run.sh"
    script.write_text("echo one\n")
    script.chmod(0o750)
    run(WriteFile(), ctx, path="run.sh", content="echo two\n")
    assert stat.S_IMODE(script.stat().st_mode) == 0o750
    assert script.read_text() == "echo two\n"


def test_write_keeps_crlf(ctx, tmp_path):
    (tmp_path / "win.txt").write_bytes(b"one\r\ntwo\r\n")
    run(WriteFile(), ctx, path="win.txt", content="one\nthree\nfour\n")
    assert (tmp_path / "win.txt").read_bytes() == b"one\r\nthree\r\nfour\r\n"


def test_write_keeps_final_newline_convention(ctx, tmp_path):
    (tmp_path / "with.txt").write_text("a\n")
    (tmp_path / "without.txt").write_text("a")
    run(WriteFile(), ctx, path="with.txt", content="b")
    run(WriteFile(), ctx, path="without.txt", content="b\n")
    assert (tmp_path / "with.txt").read_text() == "b\n"
    assert (tmp_path / "without.txt").read_text() == "b"


def test_write_same_content_is_a_no_op(ctx, tmp_path):
    (tmp_path / "a.txt").write_text("same\n")
    before = (tmp_path / "a.txt").stat().st_mtime_ns
    result = run(WriteFile(), ctx, path="a.txt", content="same\n")
    assert "nothing written" in text_of(result)
    assert (tmp_path / "a.txt").stat().st_mtime_ns == before


def test_write_refuses_outside_git_and_directories(ctx, tmp_path):
    (tmp_path / ".git").mkdir()
    (tmp_path / "dir").mkdir()
    with pytest.raises(ToolError, match="outside the workspace"):
        run(WriteFile(), ctx, path="../escape.txt", content="x")
    with pytest.raises(ToolError, match=r"inside .git"):
        run(WriteFile(), ctx, path=".git/config", content="x")
    with pytest.raises(ToolError, match="is a directory"):
        run(WriteFile(), ctx, path="dir", content="x")
    with pytest.raises(ToolError, match="parent of it is a file"):
        (tmp_path / "plain").write_text("")
        run(WriteFile(), ctx, path="plain/child.txt", content="x")
    assert not (tmp_path.parent / "escape.txt").exists()


# --- edit_file -------------------------------------------------------------------------


def test_edit_exact_unique(ctx, tmp_path):
    (tmp_path / "a.py").write_text("def f():\n    return 1\n\nprint(f())\n")
    result = run(
        EditFile(), ctx, path="a.py", old="    return 1\n", new="    x = 2\n    return x\n"
    )
    assert (tmp_path / "a.py").read_text() == "def f():\n    x = 2\n    return x\n\nprint(f())\n"
    assert result.summary == "edited a.py (+2 -1)"
    assert "-    return 1\n+    x = 2\n+    return x" in result.diff
    assert "+    return x" in text_of(result)


def test_edit_two_matches_lists_lines(ctx, tmp_path):
    (tmp_path / "a.py").write_text("x = 1\ny = 2\nx = 1\n")
    with pytest.raises(ToolError, match=r"2 times in a\.py \(at lines 1, 3\).*replace_all"):
        run(EditFile(), ctx, path="a.py", old="x = 1", new="x = 5")
    assert (tmp_path / "a.py").read_text() == "x = 1\ny = 2\nx = 1\n"
    result = run(EditFile(), ctx, path="a.py", old="x = 1", new="x = 5", replace_all=True)
    assert (tmp_path / "a.py").read_text() == "x = 5\ny = 2\nx = 5\n"
    assert result.summary == "edited a.py (+2 -2)"


def test_edit_no_match_shows_closest_lines(ctx, tmp_path):
    body = "".join(f"line {i}\n" for i in range(1, 30)) + "def compute(a, b):\n    return a * b\n"
    (tmp_path / "m.py").write_text(body)
    with pytest.raises(ToolError) as err:
        run(
            EditFile(),
            ctx,
            path="m.py",
            old="def compute(x, y, z):\n    return x + y + z\n",
            new="pass",
        )
    message = str(err.value)
    assert "not found in m.py" in message
    assert "    30\tdef compute(a, b):" in message and "    31\t    return a * b" in message
    assert (tmp_path / "m.py").read_text() == body


def test_edit_indentation_shifted(ctx, tmp_path):
    (tmp_path / "c.py").write_text("class C:\n    def f(self):\n        return 1\n")
    result = run(
        EditFile(),
        ctx,
        path="c.py",
        old="def f(self):\n    return 1",
        new="def f(self):\n    if self:\n        return 2\n    return 1",
    )
    assert (tmp_path / "c.py").read_text() == (
        "class C:\n    def f(self):\n        if self:\n            return 2\n        return 1\n"
    )
    assert "ignoring whitespace" in text_of(result)


def test_edit_trailing_whitespace_in_file(ctx, tmp_path):
    (tmp_path / "t.py").write_text("a = 1   \nb = 2\t\nc = 3\n")
    run(EditFile(), ctx, path="t.py", old="a = 1\nb = 2\n", new="a = 10\nb = 20\n")
    assert (tmp_path / "t.py").read_text() == "a = 10\nb = 20\nc = 3\n"


def test_edit_one_character_difference(ctx, tmp_path):
    source = (
        "def load(path):\n"
        "    with open(path) as handle:\n"
        "        data = handle.read()\n"
        "    return data.splitlines()\n"
        "\n"
        "print('done')\n"
    )
    (tmp_path / "l.py").write_text(source)
    old = (
        "    with open(path) as handle:\n"
        "        data = handle.raed()\n"
        "    return data.splitlines()\n"
    )
    result = run(
        EditFile(), ctx, path="l.py", old=old, new="    return open(path).read().splitlines()\n"
    )
    assert (tmp_path / "l.py").read_text() == (
        "def load(path):\n    return open(path).read().splitlines()\n\nprint('done')\n"
    )
    assert "similar" in text_of(result) and "lines 2-4" in text_of(result)


def test_edit_crlf_round_trip(ctx, tmp_path):
    (tmp_path / "w.txt").write_bytes(b"alpha\r\nbeta\r\ngamma\r\n")
    run(EditFile(), ctx, path="w.txt", old="alpha\nbeta\n", new="alpha\nBETA\nextra\n")
    assert (tmp_path / "w.txt").read_bytes() == b"alpha\r\nBETA\r\nextra\r\ngamma\r\n"


def test_edit_keeps_mode_bom_and_final_newline(ctx, tmp_path):
    path = tmp_path / "tool.sh"
    path.write_bytes(b"\xef\xbb\xbfecho a\necho b")
    path.chmod(0o755)
    run(EditFile(), ctx, path="tool.sh", old="echo b", new="echo c")
    assert path.read_bytes() == b"\xef\xbb\xbfecho a\necho c"
    assert stat.S_IMODE(path.stat().st_mode) == 0o755


def test_edit_refuses_non_utf8_and_binary(ctx, tmp_path):
    latin = "café = 1\n".encode("latin-1")
    (tmp_path / "l1.py").write_bytes(latin)
    (tmp_path / "bin.dat").write_bytes(b"x = 1\0\0")
    with pytest.raises(ToolError, match=r"not valid UTF-8.*iconv"):
        run(EditFile(), ctx, path="l1.py", old="= 1", new="= 2")
    with pytest.raises(ToolError, match="binary file"):
        run(EditFile(), ctx, path="bin.dat", old="x = 1", new="x = 2")
    assert (tmp_path / "l1.py").read_bytes() == latin


def test_edit_bad_arguments(ctx, tmp_path):
    (tmp_path / "a.txt").write_text("text\n")
    with pytest.raises(ToolError, match=r"empty.*write_file"):
        run(EditFile(), ctx, path="a.txt", old="", new="x")
    with pytest.raises(ToolError, match="the same"):
        run(EditFile(), ctx, path="a.txt", old="text", new="text")
    with pytest.raises(ToolError, match=r"file not found.*write_file"):
        run(EditFile(), ctx, path="nope.txt", old="a", new="b")
    with pytest.raises(ToolError, match="outside the workspace"):
        run(EditFile(), ctx, path="../a.txt", old="a", new="b")
    with pytest.raises(ToolError, match=r"inside .git"):
        (tmp_path / ".git").mkdir()
        (tmp_path / ".git" / "HEAD").write_text("ref\n")
        run(EditFile(), ctx, path=".git/HEAD", old="ref", new="x")


def test_default_tools_order_and_specs():
    tools = default_tools()
    assert [t.name for t in tools] == [
        "read_file",
        "list_files",
        "grep",
        "edit_file",
        "write_file",
        "run_shell",
        "view_image",
        "screenshot",
    ]
    for tool in tools:
        spec = tool_spec(tool)
        assert spec.parameters["additionalProperties"] is False
        assert all("description" in p for p in spec.parameters["properties"].values())
        assert tool.mutating == (tool.name in {"edit_file", "write_file", "run_shell"})
        assert tool.runs_commands == (tool.name == "run_shell")


# --- edits never clobber concurrent changes -------------------------------------------------


def test_edit_of_a_file_changed_since_read_fails_and_keeps_the_other_change(ctx, tmp_path):
    path = tmp_path / "app.py"
    path.write_text("x = 1\ny = 2\n")
    run(ReadFile(), ctx, path="app.py")
    path.write_text("x = 1\ny = 2\nz = 3  # the user's line\n")  # someone else saves the file

    with pytest.raises(ToolError, match="changed on disk since you last read it"):
        run(EditFile(), ctx, path="app.py", old="x = 1", new="x = 10")
    with pytest.raises(ToolError, match="changed on disk since you last read it"):
        run(WriteFile(), ctx, path="app.py", content="x = 10\ny = 2\n")
    assert path.read_text() == "x = 1\ny = 2\nz = 3  # the user's line\n"

    run(ReadFile(), ctx, path="app.py")  # reading again makes the edit possible
    run(EditFile(), ctx, path="app.py", old="x = 1", new="x = 10")
    assert path.read_text() == "x = 10\ny = 2\nz = 3  # the user's line\n"


def test_the_agents_own_edits_do_not_count_as_concurrent_changes(ctx, tmp_path):
    (tmp_path / "a.txt").write_text("one\ntwo\n")
    run(ReadFile(), ctx, path="a.txt")
    run(EditFile(), ctx, path="a.txt", old="one", new="uno")
    run(EditFile(), ctx, path="a.txt", old="two", new="dos")
    run(WriteFile(), ctx, path="a.txt", content="uno\ndos\ntres\n")
    run(EditFile(), ctx, path="a.txt", old="tres", new="three")
    assert (tmp_path / "a.txt").read_text() == "uno\ndos\nthree\n"


def test_touching_a_file_without_changing_it_is_not_a_change(ctx, tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("same\n")
    run(ReadFile(), ctx, path="a.txt")
    os.utime(path, (time.time() + 60, time.time() + 60))
    run(EditFile(), ctx, path="a.txt", old="same", new="new")
    assert path.read_text() == "new\n"


def test_a_file_deleted_since_read_is_reported_once(ctx, tmp_path):
    path = tmp_path / "gone.txt"
    path.write_text("data\n")
    run(ReadFile(), ctx, path="gone.txt")
    path.unlink()
    with pytest.raises(ToolError, match="was deleted since you last read it"):
        run(WriteFile(), ctx, path="gone.txt", content="data\nmore\n")
    assert not path.exists()
    run(WriteFile(), ctx, path="gone.txt", content="data\nmore\n")  # a deliberate second try
    assert path.read_text() == "data\nmore\n"


def test_files_never_read_can_be_edited(ctx, tmp_path):
    (tmp_path / "b.txt").write_text("alpha\n")
    run(EditFile(), ctx, path="b.txt", old="alpha", new="beta")
    assert (tmp_path / "b.txt").read_text() == "beta\n"


def test_repeating_an_edit_that_was_made_says_so(tmp_path: Path):
    ctx = ToolContext(LocalWorkspace(tmp_path))
    (tmp_path / "stats.py").write_text("def last(scores):\n    return scores[len(scores)]\n")
    args = dict(path="stats.py", old="return scores[len(scores)]", new="return scores[-1]")
    run(EditFile(), ctx, **args)
    with pytest.raises(ToolError, match=r"(?s)already made.*2\t    return scores\[-1\].*Do not repeat it"):
        run(EditFile(), ctx, **args)
    with pytest.raises(ToolError, match="was not found"):  # a different edit is still "not found"
        run(EditFile(), ctx, path="stats.py", old="print(total)", new="print(scores)")


# --- issue 18: bad input is a tool error, special files are never opened ------------------------


def call(root: Path, name: str, mode: str = "auto", **arguments):
    """One call through the real registry, as the loop makes it: (events, result)."""
    from gemma_code.agent.approval import DenyApprover
    from gemma_code.agent.messages import ToolCall
    from gemma_code.agent.registry import ToolRegistry

    registry = ToolRegistry(default_tools(), mode, DenyApprover())
    run_ = registry.run(ToolCall(name=name, arguments=arguments),
                        ToolContext(workspace=LocalWorkspace(root), shell_timeout=10))
    events = []
    try:
        while True:
            events.append(next(run_))
    except StopIteration as stop:
        return events, stop.value


BAD_PATHS = [
    ("a\0b.txt", "NUL byte"),
    ("x" * 300, "300 bytes long"),
    ("dir/" + "y" * 256 + "/z.txt", "256 bytes long"),
    ("é" * 200, "400 bytes long"),  # 200 characters, 400 bytes in UTF-8
    ("/".join(["d" * 200] * 30), "paths are at most 4096"),
    ("bad\ud800name", "not valid text"),
]


@pytest.mark.parametrize(("path", "message"), BAD_PATHS)
@pytest.mark.parametrize("tool", ["read_file", "write_file", "edit_file", "list_files",
                                  "view_image", "grep", "screenshot"])
def test_impossible_paths_are_tool_errors_not_crashes(tmp_path, tool, path, message):
    arguments = {"read_file": {"path": path}, "write_file": {"path": path, "content": "x"},
                 "edit_file": {"path": path, "old": "a", "new": "b"}, "list_files": {"path": path},
                 "view_image": {"path": path}, "grep": {"pattern": "x", "path": path},
                 "screenshot": {"target": path}}[tool]
    for mode in ("auto", "ask", "read-only"):
        _, result = call(tmp_path, tool, mode, **arguments)
        assert result.is_error
        if mode == "auto" or tool in ("read_file", "list_files", "view_image", "grep"):
            assert message in text_of(result), text_of(result)


def test_a_nul_byte_in_a_shell_command_is_a_tool_error(tmp_path):
    from gemma_code.tools.shell import RunShell

    with pytest.raises(ToolError, match="NUL byte"):
        run(RunShell(), ToolContext(workspace=LocalWorkspace(tmp_path)), command="echo a\0b")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")
@pytest.mark.timeout(30)
@pytest.mark.parametrize(("tool", "arguments"), [
    ("write_file", {"content": "x\n"}),
    ("edit_file", {"old": "a", "new": "b"}),
    ("read_file", {}),
])
def test_a_fifo_is_refused_and_never_opened(tmp_path, tool, arguments):
    os.mkfifo(tmp_path / "pipe.txt")
    started = time.monotonic()
    _, result = call(tmp_path, tool, path="pipe.txt", **arguments)
    assert result.is_error and "not a regular file" in text_of(result)
    assert time.monotonic() - started < 5
    assert stat.S_ISFIFO(os.lstat(tmp_path / "pipe.txt").st_mode)  # not replaced either


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")
@pytest.mark.timeout(30)
def test_a_link_to_a_fifo_is_refused_too(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "notes.md").symlink_to("pipe")
    _, result = call(tmp_path, "write_file", path="notes.md", content="x")
    assert result.is_error and "FIFO" in text_of(result)


@pytest.mark.timeout(30)
def test_a_socket_is_refused(tmp_path):
    import socket

    path = tmp_path / "app.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(str(path))
        server.listen(1)
        _, write = call(tmp_path, "write_file", path="app.sock", content="x")
        _, read = call(tmp_path, "read_file", path="app.sock")
    assert write.is_error and "a socket, not a regular file" in text_of(write)
    assert read.is_error and "not a regular file" in text_of(read)


def test_a_token_in_a_git_remote_is_redacted_when_read(tmp_path):
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config").write_text(
        '[remote "origin"]\n\turl = https://me:ghp_abcdefghijklmnopqrstuvwxyz0123456789'
        "@github.com/o/r.git\n")
    _, result = call(tmp_path, "read_file", "read-only", path=".git/config")
    assert "github.com/o/r.git" in text_of(result)
    assert "ghp_" not in text_of(result) and "me:[redacted]@" in text_of(result)


def test_an_edit_that_misses_does_not_quote_a_token(tmp_path):
    (tmp_path / "deploy.sh").write_text(
        "#!/bin/sh\ngit push https://bot:s3cr3t-t0ken@git.example.com/r.git main\n")
    _, result = call(tmp_path, "edit_file", path="deploy.sh",
                     old="git push https://bot@git.example.com/r.git master", new="echo none")
    assert result.is_error and "closest lines" in text_of(result)
    assert "s3cr3t" not in text_of(result) and "[redacted]" in text_of(result)
