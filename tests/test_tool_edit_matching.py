"""The edit matcher behind edit_file: exact, whitespace-insensitive, then near-identical lines."""

from __future__ import annotations

import time

import pytest

from gemma_code.agent.protocols import ToolError
from gemma_code.tools.matching import find_edit
from gemma_code.tools.textfile import decode_text


def edit(text: str, old: str, new: str, replace_all: bool = False):
    return find_edit(text, old, new, replace_all=replace_all, shown="f.py")


def test_exact_match_wins_and_has_no_note():
    result = edit("a = 1\n  a = 1\n", "  a = 1", "  a = 2")
    assert result.text == "a = 1\n  a = 2\n" and result.note == ""


def test_exact_partial_line_replacement():
    assert edit("call(alpha, beta)\n", "alpha", "gamma").text == "call(gamma, beta)\n"


def test_dedents_new_when_old_was_over_indented():
    text = "def f():\n    if x:\n        y()\n"
    result = edit(
        text,
        "        if x:\n            y()\n",
        "        if x:\n            z()\n            y()\n",
    )
    assert result.text == "def f():\n    if x:\n        z()\n        y()\n"


def test_tabs_in_file_spaces_in_old():
    text = "func main() {\n\tfmt.Println(1)\n}\n"
    result = edit(text, "    fmt.Println(1)\n", "    fmt.Println(2)\n    fmt.Println(3)\n")
    assert result.text == "func main() {\n\tfmt.Println(2)\n\tfmt.Println(3)\n}\n"


def test_internal_whitespace_differences_match():
    result = edit("x  =  compute( 1 )\n", "x = compute( 1 )", "x = 2")
    assert result.text == "x = 2\n"


def test_old_with_newline_matches_last_line_without_one():
    result = edit("a\nb", " b\n", "c\n")
    assert result.text == "a\nc"


def test_tolerant_delete():
    assert edit("keep\n  drop me  \nkeep too\n", "drop me\n", "").text == "keep\nkeep too\n"


def test_tolerant_duplicates_need_replace_all():
    text = "if a:\n    go()\nif b:\n      go()\n"
    with pytest.raises(
        ToolError, match=r"ignoring whitespace\) appears 2 times.*lines 2, 4.*replace_all"
    ):
        edit(text, "\tgo()", "\tstop()")
    result = edit(text, "\tgo()", "\tstop()", replace_all=True)
    assert result.text == "if a:\n    stop()\nif b:\n      stop()\n"


def test_quote_style_is_ignored_when_nothing_else_matches():
    text = 'def letter(avg):\n    if avg >= 90:\n        return "A"\n    return "F"\n'
    result = edit(text, "if avg >= 90:\n    return 'A'", "if avg >= 90:\n    return 'A+'")
    assert result.text == 'def letter(avg):\n    if avg >= 90:\n        return \'A+\'\n    return "F"\n'
    assert "ignoring whitespace and quote style" in result.note


def test_quote_blind_matches_in_two_places_are_ambiguous():
    with pytest.raises(ToolError, match="ignoring whitespace and quote style"):
        edit('x = "a"\ny = 1\nx = "a"\n', "x = 'a'", "x = 'b'")


def test_similar_match_reindents():
    text = "class A:\n    def run(self):\n        self.start()\n        self.finish()\n"
    result = edit(text, "self.start()\nself.finnish()\n", "self.begin()\nself.finish()\n")
    assert (
        result.text == "class A:\n    def run(self):\n        self.begin()\n        self.finish()\n"
    )
    assert "lines 3-4" in result.note and "similar" in result.note


def test_similar_but_ambiguous_names_both_places():
    text = "total = price * count + tax\nother()\ntotal = price * count + tux\n"
    with pytest.raises(ToolError, match=r"not exact\) appears 2 times.*lines 1, 3") as err:
        edit(text, "total = price * count + tex", "total = 0")
    assert "replace_all" not in str(err.value)


def test_below_threshold_is_not_found_and_shows_closest():
    text = "alpha()\nbeta()\nwhile running:\n    step(1)\n"
    with pytest.raises(ToolError, match="not found") as err:
        edit(text, "while stopped:\n    halt(2)\n", "pass\n")
    assert "     3\twhile running:\n     4\t    step(1)" in str(err.value)


def test_whitespace_only_old_and_empty_file():
    with pytest.raises(ToolError, match="only whitespace"):
        edit("a\n\n\nb\n", "  \n \n", "x")
    with pytest.raises(ToolError, match=r"empty.*write_file"):
        edit("", "something", "x")


def test_large_file_miss_is_fast_and_points_to_grep():
    text = "".join(f"value_{i} = compute({i})\n" for i in range(200_000))
    started = time.monotonic()
    with pytest.raises(ToolError, match="grep"):
        edit(text, "missing_1 = other(1)\nmissing_2 = other(2)\n", "x")
    assert time.monotonic() - started < 3


def test_decode_text_crlf_and_bom():
    file = decode_text(b"\xef\xbb\xbfa\r\nb\r\n")
    assert (file.text, file.crlf, file.bom) == ("a\nb\n", True, True)
    assert file.encode("a\nc\n") == b"\xef\xbb\xbfa\r\nc\r\n"
    lf = decode_text(b"a\nb\r\nc\nd\n")
    assert not lf.crlf and lf.encode(lf.text) == b"a\nb\r\nc\nd\n"
    with pytest.raises(UnicodeDecodeError):
        decode_text("é".encode("latin-1"))
