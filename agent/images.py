"""Images given to the model: checked, scaled down, and kept in a content-addressed store.

Every image that enters a conversation (an attachment, `view_image`, `screenshot`) goes
through `prepare_image`: it is decoded once with Pillow, so a corrupt or huge file fails here
with a clear message instead of inside a backend, then saved as a PNG named by its digest.
The stored copy is what sessions keep and backends read, so a resumed session still has it
and a backend can recognise an image it has already encoded.
"""

from __future__ import annotations

import hashlib
import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

from .messages import ImagePart, Part, TextPart

IMAGES_DIR_ENV = "GEMMA_CODE_IMAGES_DIR"
FORMATS = {"PNG": "PNG", "JPEG": "JPEG", "MPO": "JPEG", "WEBP": "WebP", "GIF": "GIF", "BMP": "BMP"}
MAX_PIXELS = 100_000_000  # larger images are refused before they are decoded
MAX_SIDE = 2048  # stored copies are scaled to fit; backends scale further to their token budget
MAX_FILE_BYTES = 200 * 1024 * 1024
OCR_NOTE_START = "[Text read by OCR from the image "  # how the model's OCR text begins


class ImageError(Exception):
    """An image that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class PreparedImage:
    """A stored image ready for a model, and what it was made from."""

    part: ImagePart
    name: str  # how to show it: the source's file name, or a label
    width: int
    height: int
    original: tuple[int, int]

    @property
    def scaled(self) -> bool:
        return (self.width, self.height) != self.original

    def describe(self) -> str:
        size = f"{self.width}x{self.height}"
        if self.scaled:
            size += f", scaled from {self.original[0]}x{self.original[1]}"
        return f"{self.name} ({size})"


def images_dir() -> Path:
    """Where prepared images live: `$GEMMA_CODE_IMAGES_DIR` or the user data dir."""
    override = os.environ.get(IMAGES_DIR_ENV)
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_data_dir("gemma-code")) / "images"


def _open(data: bytes, name: str):
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():  # the size is checked below, against our own limit
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:
        raise ImageError(
            f"{name} is larger than the {MAX_PIXELS // 1_000_000} megapixels gemma-code decodes; "
            "crop or scale it first"
        ) from None
    except UnidentifiedImageError:
        raise ImageError(
            f"{name} is not an image gemma-code can read (PNG, JPEG, WebP, GIF or BMP)"
        ) from None
    if image.format not in FORMATS:
        raise ImageError(f"{name} is a {image.format} image; use PNG, JPEG, WebP, GIF or BMP")
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise ImageError(
            f"{name} is {width}x{height} ({width * height / 1e6:.0f} megapixels), more than the "
            f"{MAX_PIXELS // 1_000_000} megapixels gemma-code decodes; crop or scale it first"
        )
    return image


def _decode(data: bytes, name: str):
    """(the first frame of `data` as an RGB image, upright; its size in the file).

    ImageError if it cannot be read."""
    from PIL import Image, ImageOps

    image = _open(data, name)
    original = image.size
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image.seek(0)  # GIF, animated WebP: the first frame
            # JPEGs decode at a reduced scale straight away when they are far too big.
            image.draft("RGB", (MAX_SIDE, MAX_SIDE))
            image.load()
            image = ImageOps.exif_transpose(image)
            if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
                rgba = image.convert("RGBA")
                image = Image.new("RGB", rgba.size, "white")
                image.paste(rgba, mask=rgba.getchannel("A"))
            return image.convert("RGB"), original
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise ImageError(f"{name} is damaged or truncated and cannot be decoded ({exc})") from None


def prepare_image(
    source: Path | bytes, *, name: str | None = None, store: Path | None = None
) -> PreparedImage:
    """Check, scale and store an image file (or encoded bytes); ImageError when unusable."""
    if isinstance(source, Path):
        name = name or source.name
        try:
            size = source.stat().st_size
            if size > MAX_FILE_BYTES:
                raise ImageError(f"{name} is {size / 1e6:.0f} MB; images over "
                                 f"{MAX_FILE_BYTES // 1_000_000} MB are not read")
            data = source.read_bytes()
        except FileNotFoundError:
            raise ImageError(f"{source}: no such file") from None
        except IsADirectoryError:
            raise ImageError(f"{source} is a directory, not an image") from None
        except OSError as exc:
            raise ImageError(f"cannot read {source}: {exc.strerror or exc}") from None
    else:
        data, name = source, name or "image"
    image, original = _decode(data, name)
    image.thumbnail((MAX_SIDE, MAX_SIDE))
    out = io.BytesIO()
    image.save(out, "PNG", optimize=False)
    encoded = out.getvalue()
    digest = hashlib.sha256(encoded).hexdigest()
    folder = store or images_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{digest}.png"
    if not path.is_file():
        temporary = folder / f".{digest}.{os.getpid()}.tmp"
        temporary.write_bytes(encoded)
        temporary.replace(path)
    return PreparedImage(
        part=ImagePart(path=path, media_type="image/png"), name=name,
        width=image.width, height=image.height, original=original,
    )


@dataclass(frozen=True)
class ImageForModel:
    """What the model gets for one image, and a line for the person about how it got it."""

    parts: tuple[Part, ...]
    how: str


def image_for_model(image: PreparedImage, *, vision: bool) -> ImageForModel:
    """The image itself for a model with vision; otherwise the text OCR reads from it."""
    if vision:
        return ImageForModel((image.part,), f"{image.describe()} sent to the model as an image")
    from .ocr import OcrUnavailable, read_text

    try:
        found = read_text(image.part.path)
    except OcrUnavailable as exc:
        raise ImageError(
            f"{image.name}: the model cannot see images and OCR is not available ({exc})"
        ) from None
    body = found.text or "(OCR found no text in this image)"
    note = (
        f"{OCR_NOTE_START}{image.name} ({image.width}x{image.height}); "
        "you cannot see the image itself, and spacing and punctuation may be slightly off.]"
    )
    lines = found.text.count("\n") + 1 if found.text else 0
    how = f"{image.describe()} read with OCR: {lines} lines in {found.seconds:.1f} s (the model has no vision)"
    return ImageForModel((TextPart(text=f"{note}\n{body}"),), how)
