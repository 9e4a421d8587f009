"""The clipboard's image, read for real from a private X server (Xvfb) filled with xclip."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest
from PIL import Image

from gemma_code.agent.clipboard import NoClipboardImage, grab_image
from gemma_code.agent.images import ImageError

from .tui.xserver import XClipboard, x_clipboard  # noqa: F401 - a fixture

pytestmark = pytest.mark.skipif(sys.platform in ("darwin", "win32"),
                                reason="the Linux clipboard (X11 through xclip)")


def pattern() -> Image.Image:
    """Four coloured quadrants, so a mirrored or scaled copy would not pass for it."""
    image = Image.new("RGB", (40, 30), "red")
    image.paste((0, 0, 255), (20, 0, 40, 15))
    image.paste((0, 255, 0), (0, 15, 20, 30))
    image.paste((255, 255, 255), (20, 15, 40, 30))
    return image


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def test_the_clipboard_image_comes_back_as_the_same_png(x_clipboard: XClipboard):
    x_clipboard.put(png(pattern()), "image/png")
    grabbed = Image.open(io.BytesIO(grab_image()))
    assert grabbed.format == "PNG" and grabbed.size == (40, 30)
    assert grabbed.convert("RGB").tobytes() == pattern().tobytes()


def test_text_on_the_clipboard_is_not_an_image(x_clipboard: XClipboard):
    x_clipboard.put(b"just some copied text", "UTF8_STRING")
    with pytest.raises(NoClipboardImage, match="the clipboard holds no image"):
        grab_image()


def test_an_empty_clipboard_holds_no_image(x_clipboard: XClipboard):
    with pytest.raises(NoClipboardImage, match="the clipboard holds no image"):
        grab_image()


def test_without_a_display_it_says_why(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(ImageError, match="no display to read a clipboard from") as caught:
        grab_image()
    assert "/image PATH" in str(caught.value)


@pytest.mark.parametrize("variable, advice", [
    ("DISPLAY", "install xclip"), ("WAYLAND_DISPLAY", "install wl-clipboard"),
])
def test_without_the_helper_program_it_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str, advice: str
):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setenv(variable, ":0" if variable == "DISPLAY" else "wayland-0")
    monkeypatch.setenv("PATH", str(tmp_path))  # neither xclip nor wl-paste can be found
    with pytest.raises(ImageError, match=advice):
        grab_image()


def test_a_clipboard_program_that_never_answers_times_out(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch):
    import time

    from gemma_code.agent import clipboard

    hung = tmp_path / "bin" / "xclip"
    hung.parent.mkdir()
    hung.write_text("#!/bin/sh\nexec sleep 60\n")  # a clipboard owner that never answers
    hung.chmod(0o755)
    monkeypatch.setenv("PATH", f"{hung.parent}:/usr/bin:/bin")
    monkeypatch.setenv("DISPLAY", ":99")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(clipboard, "CLIPBOARD_SECONDS", 1.0)
    started = time.monotonic()
    with pytest.raises(ImageError, match="xclip did not answer within 1 s"):
        grab_image()
    assert time.monotonic() - started < 5
