"""The image on the system clipboard, as PNG bytes.

Pillow's `ImageGrab.grabclipboard` reads it: natively on macOS and Windows, through
`wl-paste` (Wayland) or `xclip` (X11) on Linux and the BSDs.
"""

from __future__ import annotations

import io
import os
import shutil
import sys

from .attachments import IMAGE_SUFFIXES
from .images import ImageError

NO_IMAGE = "the clipboard holds no image: copy one (or a screenshot) first, or use /image PATH"


class NoClipboardImage(ImageError):
    """The clipboard is readable but holds no image (text, or nothing)."""


def _linux_tool_problem() -> str | None:
    """Why the clipboard cannot be read here (no display, no helper program), or None."""
    wayland, x11 = os.environ.get("WAYLAND_DISPLAY"), os.environ.get("DISPLAY")
    if not wayland and not x11:
        return ("no display to read a clipboard from (neither WAYLAND_DISPLAY nor DISPLAY is "
                "set; over SSH, copy the image to this machine and use /image PATH)")
    if wayland and not shutil.which("wl-paste"):
        return "reading the clipboard on Wayland needs wl-paste: install wl-clipboard"
    if not wayland and not shutil.which("xclip"):
        return "reading the clipboard on X11 needs xclip: install xclip"
    return None


def _first_image_file(names: list[str]):
    """Copied files (Windows): the first image among them, opened."""
    from PIL import Image

    for name in names:
        if name.lower().endswith(IMAGE_SUFFIXES):
            return Image.open(name)
    raise NoClipboardImage("the clipboard holds files but no image file; "
                           "paste or drop an image file's path instead")


def _png(image) -> bytes:
    out = io.BytesIO()
    if image.mode not in ("1", "L", "LA", "I", "P", "RGB", "RGBA"):
        image = image.convert("RGBA")  # CMYK, YCbCr and the like cannot be PNGs
    image.save(out, "PNG")
    return out.getvalue()


def grab_image() -> bytes:
    """The clipboard's image as PNG bytes; ImageError saying what to do when there is none."""
    if sys.platform not in ("darwin", "win32"):
        problem = _linux_tool_problem()
        if problem:
            raise ImageError(problem)
    from PIL import ImageGrab, UnidentifiedImageError

    try:
        grabbed = ImageGrab.grabclipboard()
        if isinstance(grabbed, list):
            grabbed = _first_image_file(grabbed)
        if grabbed is None:
            raise NoClipboardImage(NO_IMAGE)
        return _png(grabbed)
    except UnidentifiedImageError:  # xclip hands over text when asked for an image
        raise NoClipboardImage(NO_IMAGE) from None
    except NotImplementedError:
        raise ImageError("cannot read the clipboard here: install xclip (X11) or "
                         "wl-clipboard (Wayland)") from None
    except (ChildProcessError, OSError, ValueError) as exc:  # a helper failed, unreadable data
        raise ImageError(f"cannot read an image from the clipboard: {exc}") from None
