"""Images into the model: preparing files, OCR for models without vision, view_image, bad input."""

from __future__ import annotations

import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from PIL import Image

from gemma_code.agent.images import ImageError, image_for_model, prepare_image
from gemma_code.agent.messages import ImagePart, TextPart
from gemma_code.agent.ocr import TextBox, lay_out, read_text
from gemma_code.agent.protocols import ToolContext, ToolError
from gemma_code.agent.workspace import LocalWorkspace
from gemma_code.tools.vision import ViewImage

from .conftest import TRACEBACK, text_png

TABLE = "name      qty    price\napple     3      1.20\npear      10     0.75\nplum      7      2.05"


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_header_only(path: Path, width: int, height: int) -> Path:
    """A small PNG file whose header claims `width`x`height` (its pixel data is missing)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr)
                     + _chunk(b"IDAT", zlib.compress(b"\x00")) + _chunk(b"IEND", b""))
    return path


def test_prepare_stores_a_png_by_digest_once(tmp_path: Path):
    source = tmp_path / "shot.jpg"
    Image.new("RGB", (640, 480), (200, 30, 30)).save(source, "JPEG")
    first = prepare_image(source)
    again = prepare_image(source)
    assert first.part.path == again.part.path
    assert first.part.path.parent == tmp_path / "images"  # GEMMA_CODE_IMAGES_DIR from conftest
    assert first.part.path.name == f"{first.part.path.stem}.png" and len(first.part.path.stem) == 64
    assert (first.width, first.height, first.scaled) == (640, 480, False)
    assert Image.open(first.part.path).format == "PNG"


def test_formats_gif_first_frame_transparency_and_webp(tmp_path: Path):
    frames = [Image.new("RGB", (40, 30), colour) for colour in ("blue", "yellow")]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=100)
    gif = prepare_image(tmp_path / "anim.gif")
    assert Image.open(gif.part.path).convert("RGB").getpixel((5, 5)) == (0, 0, 255)

    Image.new("RGBA", (20, 20), (0, 0, 0, 0)).save(tmp_path / "clear.png")
    clear = prepare_image(tmp_path / "clear.png")
    assert Image.open(clear.part.path).getpixel((3, 3)) == (255, 255, 255)  # on white, not black

    Image.new("RGB", (64, 48), "green").save(tmp_path / "a.webp", "WEBP")
    assert prepare_image(tmp_path / "a.webp").width == 64


def test_a_50_megapixel_image_is_scaled_not_refused(tmp_path: Path):
    big = tmp_path / "big.png"
    Image.new("L", (8660, 5774), 200).save(big)  # 50 megapixels
    prepared = prepare_image(big)
    assert prepared.scaled and max(prepared.width, prepared.height) == 2048
    assert "scaled from 8660x5774" in prepared.describe()


@pytest.mark.parametrize("make, message", [
    (lambda d: d / "missing.png", "no such file"),
    (lambda d: d, "is a directory"),
    (lambda d: (d / "notes.png").write_text("hello, not an image") and d / "notes.png",
     "not an image gemma-code can read"),
    (lambda d: _png_header_only(d / "huge.png", 12000, 9000), "12000x9000 \\(108 megapixels\\)"),
    (lambda d: _png_header_only(d / "bomb.png", 20000, 20000), "larger than the 100 megapixels"),
    (lambda d: (d / "x.tiff").write_bytes(_tiff_bytes()) and d / "x.tiff", "TIFF image"),
])
def test_bad_images_get_a_clear_error(tmp_path: Path, make, message: str):
    with pytest.raises(ImageError, match=message):
        prepare_image(make(tmp_path))


def _tiff_bytes() -> bytes:
    import io

    out = io.BytesIO()
    Image.new("RGB", (4, 4)).save(out, "TIFF")
    return out.getvalue()


def test_a_truncated_png_is_reported_as_damaged(tmp_path: Path):
    good = text_png(tmp_path / "good.png", "some text")
    data = good.read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match="damaged or truncated"):
        prepare_image(tmp_path / "cut.png")
    garbled = bytearray(data)
    garbled[60:200] = b"\x00" * 140
    (tmp_path / "garbled.png").write_bytes(bytes(garbled))
    with pytest.raises(ImageError, match="damaged or truncated"):
        prepare_image(tmp_path / "garbled.png")


def test_ocr_reads_a_traceback_keeping_its_indentation(tmp_path: Path):
    result = read_text(text_png(tmp_path / "tb.png", TRACEBACK))
    lines = result.text.splitlines()
    assert len(lines) == 6
    assert lines[0] == "Traceback (most recent call last):"
    assert "ZeroDivisionError: division by zero" in lines[-1]
    assert 'cart.py", line 9, in total' in lines[3]
    assert "len(discounts)" in lines[4]
    # `print(...)` and `return ...` sit deeper than the `File` lines, which sit deeper than the rest
    depth = [len(line) - len(line.lstrip()) for line in lines]
    assert depth[0] == depth[5] < depth[1] == depth[3] < depth[2] == depth[4]


def test_ocr_reads_a_table_row_by_row(tmp_path: Path):
    result = read_text(text_png(tmp_path / "table.png", TABLE, dark=False))
    rows = [line.split() for line in result.text.splitlines()]
    assert rows[0] == ["name", "qty", "price"]
    assert [row[1:] for row in rows[1:]] == [["3", "1.20"], ["10", "0.75"], ["7", "2.05"]]


def test_lay_out_groups_boxes_into_lines_in_reading_order():
    boxes = [
        TextBox("b", 100, 40, 110, 60),
        TextBox("a", 0, 41, 10, 61),
        TextBox("top", 0, 0, 30, 20),
        TextBox("indented", 20, 80, 100, 100),
    ]
    assert lay_out(boxes) == "top\na         b\n  indented"
    assert lay_out([]) == ""


def test_lay_out_drops_what_two_overlapping_boxes_both_read():
    # what the detector returned for one line at two font sizes
    split = [TextBox("DEPLOY FAILED 4", 26, 0, 225, 20), TextBox("42", 207, 0, 244, 20)]
    assert lay_out(split) == "DEPLOY FAILED 42"
    split = [TextBox("error: port 8", 21, 0, 227, 20), TextBox("t 8080 in use", 197, 0, 431, 20)]
    assert lay_out(split) == "error: port 8080 in use"
    # table cells side by side keep their text and the gap between them
    cells = [TextBox("apple", 0, 0, 50, 20), TextBox("pear", 49, 0, 89, 20)]
    assert lay_out(cells) == "apple pear"


def test_image_for_model_native_or_ocr(tmp_path: Path):
    prepared = prepare_image(text_png(tmp_path / "tb.png", TRACEBACK))
    native = image_for_model(prepared, vision=True)
    assert native.parts == (prepared.part,) and "sent to the model as an image" in native.how
    ocr = image_for_model(prepared, vision=False)
    (part,) = ocr.parts
    assert isinstance(part, TextPart)
    assert part.text.startswith("[Text read by OCR from the image tb.png")
    assert "ZeroDivisionError: division by zero" in part.text
    assert "read with OCR: 6 lines" in ocr.how and "the model has no vision" in ocr.how


def test_without_ocr_installed_a_text_only_model_gets_a_clear_error(tmp_path: Path):
    image = text_png(tmp_path / "tb.png", "hello")
    code = (
        "import sys; sys.modules['rapidocr'] = None\n"  # as if rapidocr were not installed
        "from pathlib import Path\n"
        "from gemma_code.agent.images import ImageError, image_for_model, prepare_image\n"
        f"prepared = prepare_image(Path({str(image)!r}))\n"
        "try:\n    image_for_model(prepared, vision=False)\n"
        "except ImageError as exc:\n    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "tb.png: the model cannot see images and OCR is not available" in out.stdout
    assert "pip install 'gemma-code[ocr]'" in out.stdout


def _ctx(root: Path, vision: bool) -> ToolContext:
    return ToolContext(LocalWorkspace(root), vision=vision)


def test_view_image_tool(tmp_path: Path):
    (tmp_path / "docs").mkdir()
    text_png(tmp_path / "docs" / "error.png", TRACEBACK)
    tool = ViewImage()
    seen = tool(ViewImage.Args(path="docs/error.png"), _ctx(tmp_path, vision=True))
    assert isinstance(seen.content[0], ImagePart) and not seen.is_error
    assert "docs/error.png (" in seen.summary
    read = tool(ViewImage.Args(path="docs/error.png"), _ctx(tmp_path, vision=False))
    assert "ZeroDivisionError" in read.content[0].text and "OCR" in read.summary


@pytest.mark.parametrize("path, message", [
    ("missing.png", "file not found"),
    ("../outside.png", "outside the workspace"),
    ("notes.txt", "not an image"),
    ("cut.png", "damaged or truncated"),
])
def test_view_image_errors_are_tool_errors(tmp_path: Path, path: str, message: str):
    root = tmp_path / "ws"
    root.mkdir()
    text_png(tmp_path / "outside.png", "secret")
    (root / "notes.txt").write_text("plain text")
    data = text_png(root / "whole.png", "x").read_bytes()
    (root / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ToolError, match=message):
        ViewImage()(ViewImage.Args(path=path), _ctx(root, vision=False))
