"""Text from images with OCR (rapidocr, whose models ship in its wheel), for models without vision.

The recogniser returns boxes of text; `lay_out` puts them back into lines in reading order
and keeps indentation and column gaps roughly as they were, so a screenshot of a traceback
or a table still reads like one.
"""

from __future__ import annotations

import logging
import statistics
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Text the recogniser reads scores 0.95 and up; carets under a traceback line, borders and
# icons come out as junk scoring 0.5-0.7, which misleads a small model more than a gap does.
MIN_SCORE = 0.7
# Screenshots at 1x put text at 12-16 px; the detector then merges close lines (a caret line
# with the error below it). Twice the size reads them apart; a cropped terminal or dialog
# is small, while a full page or screen already has text big enough.
UPSCALE_BELOW = 1000


class OcrUnavailable(Exception):
    """OCR cannot run here; the message says what to install."""


@dataclass(frozen=True)
class TextBox:
    text: str
    left: float
    top: float
    right: float
    bottom: float

    @property
    def middle(self) -> float:
        return (self.top + self.bottom) / 2

    @property
    def height(self) -> float:
        return self.bottom - self.top


@dataclass(frozen=True)
class OcrResult:
    text: str
    boxes: tuple[TextBox, ...]
    seconds: float


_engine = None
_engine_lock = threading.Lock()


def _load_engine():
    global _engine
    if _engine is None:
        try:
            from rapidocr import RapidOCR
        except ImportError as exc:
            raise OcrUnavailable(
                f"rapidocr is not installed ({exc.name or exc}); install it with "
                "pip install 'gemma-code[ocr]'"
            ) from None
        logging.getLogger("RapidOCR").setLevel(logging.WARNING)
        try:
            _engine = RapidOCR()
        except Exception as exc:  # a broken install: its models missing, onnxruntime failing
            raise OcrUnavailable(f"rapidocr failed to start: {exc}") from None
        logging.getLogger("RapidOCR").setLevel(logging.WARNING)
    return _engine


def read_text(path: Path) -> OcrResult:
    """The text in the image at `path`, laid out in lines; OcrUnavailable if OCR cannot run."""
    from PIL import Image

    started = time.perf_counter()
    with Image.open(path) as image:
        image = image.convert("RGB")
    if max(image.size) <= UPSCALE_BELOW:
        image = image.resize((image.width * 2, image.height * 2), Image.Resampling.LANCZOS)
    with _engine_lock:
        output = _load_engine()(np.asarray(image))
    boxes = []
    for points, text, score in zip(output.boxes if output.boxes is not None else (),
                                   output.txts or (), output.scores or ()):
        if score < MIN_SCORE or not text.strip():
            continue
        xs = [float(p[0]) for p in points]
        ys = [float(p[1]) for p in points]
        boxes.append(TextBox(text.strip(), min(xs), min(ys), max(xs), max(ys)))
    return OcrResult(lay_out(boxes), tuple(boxes), time.perf_counter() - started)


def _rows(boxes: Sequence[TextBox]) -> list[list[TextBox]]:
    """Boxes grouped into lines: a box joins the line whose middle it is vertically near."""
    rows: list[list[TextBox]] = []
    for box in sorted(boxes, key=lambda b: b.middle):
        if rows:
            row = rows[-1]
            middle = statistics.fmean(b.middle for b in row)
            height = statistics.fmean(b.height for b in row)
            if abs(box.middle - middle) < height / 2:
                row.append(box)
                continue
        rows.append([box])
    return [sorted(row, key=lambda b: b.left) for row in rows]


def _width(box: TextBox) -> float:
    return (box.right - box.left) / max(len(box.text), 1)


def _overlap_prefix(left: TextBox, right: TextBox) -> int:
    """How many leading characters of `right` repeat the end of `left`.

    The detector sometimes splits one line into two boxes that overlap by a character or
    two, and both keep it ("DEPLOY FAILED 4" + "42"). Only boxes that overlap by half a
    character or more count: side by side words and table cells do not.
    """
    overlap = left.right - right.left
    if overlap < _width(left) / 2:
        return 0
    most = min(len(right.text), round(overlap / _width(right)) + 2)
    for k in range(most, 0, -1):
        if right.text[:k] in left.text[-(k + 2):]:
            return k
    return 0


def lay_out(boxes: Sequence[TextBox]) -> str:
    """Lines of text in reading order, with indentation and gaps as runs of spaces."""
    if not boxes:
        return ""
    char_width = statistics.median(_width(b) for b in boxes) or 1.0
    margin = min(b.left for b in boxes)
    lines = []
    for row in _rows(boxes):
        line = " " * round((row[0].left - margin) / char_width)
        line += row[0].text
        for before, box in zip(row, row[1:]):
            repeated = _overlap_prefix(before, box)
            if repeated:
                line += box.text[repeated:]
            else:
                line += " " * max(1, round((box.left - before.right) / char_width)) + box.text
        lines.append(line.rstrip())
    return "\n".join(lines)
