"""Pasted and typed image paths, path completion, and the pending attachments' order."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from gemma_code.agent.attachments import (
    Attachment, PendingAttachments, complete_path, image_arguments, pasted_images, split_paths,
    to_path,
)
from gemma_code.agent.messages import TextPart


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """A workspace with images (one name with a space, one upper-case suffix) and a text file."""
    root = tmp_path / "work space"
    (root / "shots").mkdir(parents=True)
    for name in ("my shot.png", "b.JPG", "shots/c.webp", "shots/d.gif"):
        Image.new("RGB", (4, 4), "red").save(root / name, format=Image.registered_extensions()[
            Path(name).suffix.lower()])
    (root / "notes.txt").write_text("not an image\n")
    (root / ".hidden.png").write_bytes((root / "b.JPG").read_bytes())
    return root


def test_split_paths_undoes_quotes_and_escapes():
    assert split_paths("'/a b/c.png' \"/d e.png\" /f\\ g.png /h.png") == [
        "/a b/c.png", "/d e.png", "/f g.png", "/h.png"]
    assert split_paths("it's unbalanced") == []
    assert split_paths("#not-a-comment.png") == ["#not-a-comment.png"]


def test_to_path_reads_uris_home_and_relative_paths(tmp_path: Path):
    assert to_path("file:///tmp/my%20shot.png", tmp_path) == Path("/tmp/my shot.png")
    assert to_path("file://localhost/tmp/x.png", tmp_path) == Path("/tmp/x.png")
    assert to_path("~/x.png", tmp_path) == Path.home() / "x.png"
    assert to_path("shots/x.png", tmp_path) == tmp_path / "shots" / "x.png"


@pytest.mark.parametrize("paste", [
    "'{root}/my shot.png'",            # GNOME Terminal and others quote
    '"{root}/my shot.png"',            # Windows Terminal
    "{escaped}/my\\ shot.png",         # iTerm2, kitty: backslash-escaped spaces
    "{root}/my shot.png",              # a plain path with an unescaped space
    "file://{uri}/my%20shot.png",      # a file:// URI
    "  '{root}/my shot.png'\n",        # with the whitespace some terminals add
])
def test_a_dropped_file_is_recognised_however_the_terminal_writes_it(shots: Path, paste: str):
    uri, escaped = str(shots).replace(" ", "%20"), str(shots).replace(" ", "\\ ")
    pasted = paste.format(root=shots, uri=uri, escaped=escaped)
    assert pasted_images(pasted, shots) == [shots / "my shot.png"]


def test_several_dropped_files_relative_ones_and_upper_case_suffixes(shots: Path):
    paste = f"'{shots}/my shot.png' \"{shots}/b.JPG\"\nshots/c.webp shots/c.webp"
    assert pasted_images(paste, shots) == [shots / "my shot.png", shots / "b.JPG", shots / "shots/c.webp"]


@pytest.mark.parametrize("paste", [
    "",
    "hello world",
    "look at {root}/b.JPG",            # a path inside a sentence is text
    "{root}/notes.txt",                # exists, but not an image
    "'{root}/b.JPG' '{root}/gone.png'",  # one of them is missing
    "{root}/shots",                    # a folder
    "'{root}/b.JPG",                   # an unbalanced quote
    "x" * 5000 + ".png",               # a name too long for the file system
])
def test_anything_else_is_pasted_as_text(shots: Path, paste: str):
    assert pasted_images(paste.format(root=shots), shots) == []


def test_image_arguments_take_the_whole_argument_or_its_words(shots: Path):
    assert image_arguments("my shot.png", shots) == [shots / "my shot.png"]
    assert image_arguments("'my shot.png' b.JPG", shots) == [shots / "my shot.png", shots / "b.JPG"]
    assert image_arguments("missing.png", shots) == [shots / "missing.png"]
    assert image_arguments("'unbalanced.png", shots) == [shots / "'unbalanced.png"]


def test_completion_offers_folders_and_images_only(shots: Path):
    assert complete_path("", shots) == ["b.JPG", "my shot.png", "shots/"]
    assert complete_path("sh", shots) == ["shots/"]
    assert complete_path("shots/", shots) == ["shots/c.webp", "shots/d.gif"]
    assert complete_path(".h", shots) == [".hidden.png"]
    assert complete_path(f"{shots}/m", shots) == [f"{shots}/my shot.png"]
    assert complete_path("nowhere/x", shots) == []


def test_pending_attachments_keep_the_order_they_were_asked_in():
    pending = PendingAttachments()
    first, second, third = pending.start("a.png"), pending.start("b.png"), pending.start("c.png")
    assert pending.reading == ["a.png", "b.png", "c.png"] and not pending.ready
    assert pending.finish(third, Attachment("c.png", (TextPart(text="C"),)))
    assert pending.finish(second, None)  # b.png could not be read: it just goes
    assert pending.finish(first, Attachment("a.png", (TextPart(text="A"),)))
    assert [a.name for a in pending.ready] == ["a.png", "c.png"]
    assert [p.text for p in pending.parts()] == ["A", "C"]
    late = pending.start("d.png")
    assert pending.clear() == 3 and not pending
    assert not pending.finish(late, Attachment("d.png", ()))  # cleared while it was read
    assert not pending.ready
