"""The image on the system clipboard, as PNG bytes.

Pillow's `ImageGrab.grabclipboard` reads it on macOS and Windows; on Linux and the BSDs
`wl-paste` (Wayland) or `xclip` (X11) do, called here with a time limit (Pillow waits on
them forever, and a clipboard owner that never answers would hang the app).
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
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


CLIPBOARD_SECONDS = 5.0  # a clipboard owner that does not answer must not hang the app
IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp", "image/bmp", "image/gif")
_LINUX_READERS = {  # (list the types on offer, read one of them)
    "wayland": (["wl-paste", "--list-types"], ["wl-paste", "--no-newline", "--type"]),
    "x11": (["xclip", "-selection", "clipboard", "-t", "TARGETS", "-o"],
            ["xclip", "-selection", "clipboard", "-o", "-t"]),
}


def _run(argv: list[str]) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(argv, capture_output=True, stdin=subprocess.DEVNULL,
                              timeout=CLIPBOARD_SECONDS)
    except subprocess.TimeoutExpired:
        raise ImageError(f"{argv[0]} did not answer within {CLIPBOARD_SECONDS:g} s (the "
                         "program that owns the clipboard may be hung)") from None


def _linux_image():
    """The clipboard's image through wl-paste or xclip, each call with a time limit."""
    from PIL import Image

    listing, reading = _LINUX_READERS["wayland" if os.environ.get("WAYLAND_DISPLAY") else "x11"]
    offered = _run(listing)
    types = offered.stdout.decode("utf-8", "replace").split() if offered.returncode == 0 else []
    wanted = next((t for t in IMAGE_TYPES if t in types), None)
    if wanted is None:  # text, or nothing (xclip then exits non-zero)
        raise NoClipboardImage(NO_IMAGE)
    got = _run([*reading, wanted])
    if got.returncode != 0 or not got.stdout:
        raise ImageError(f"cannot read the clipboard's {wanted}: "
                         f"{got.stderr.decode('utf-8', 'replace').strip() or 'no data'}")
    return Image.open(io.BytesIO(got.stdout))


def grab_image() -> bytes:
    """The clipboard's image as PNG bytes; ImageError saying what to do when there is none."""
    from PIL import ImageGrab, UnidentifiedImageError

    try:
        if sys.platform not in ("darwin", "win32"):
            problem = _linux_tool_problem()
            if problem:
                raise ImageError(problem)
            return _png(_linux_image())
        grabbed = ImageGrab.grabclipboard()
        if isinstance(grabbed, list):
            grabbed = _first_image_file(grabbed)
        if grabbed is None:
            raise NoClipboardImage(NO_IMAGE)
        return _png(grabbed)
    except UnidentifiedImageError:
        raise NoClipboardImage(NO_IMAGE) from None
    except (OSError, ValueError) as exc:  # a helper failed, unreadable data
        raise ImageError(f"cannot read an image from the clipboard: {exc}") from None
