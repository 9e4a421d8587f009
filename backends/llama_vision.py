"""Images on the llama.cpp backend, through llama.cpp's multimodal library (mtmd).

An image becomes a span of placeholder ids in the backend's token list (`image_spans`), one
per position it takes in the KV cache. Only the step that first brings an image pays for
encoding it; later steps reuse the cache like any other prefix.
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from gemma_code.agent.messages import ImagePart

from .image_spans import VisionError, placeholder_id


@dataclass
class ImageSpan:
    """One encoded image waiting in the prompt: its mtmd chunk and how many positions it takes."""

    chunk: object  # an owned `mtmd_input_chunk *` (a copy), freed by `Projector.close`
    n_tokens: int


class Projector:
    """An `mmproj` GGUF loaded next to a model: turns prompt text with images into spans."""

    def __init__(self, llm, path: Path, *, max_image_tokens: int) -> None:
        import llama_cpp
        import llama_cpp.mtmd_cpp as mtmd

        self._mtmd = mtmd
        params = mtmd.mtmd_context_params_default()
        params.use_gpu = True
        params.print_timings = False
        params.n_threads = llm.n_threads
        params.warmup = False
        params.image_max_tokens = max_image_tokens
        params.flash_attn_type = llm.context_params.flash_attn_type
        if not Path(path).is_file():
            raise VisionError(f"image projector not found: {path}")
        self.ctx = mtmd.mtmd_init_from_file(str(path).encode(), llm.model, params)
        if not self.ctx:
            raise VisionError(
                f"llama.cpp could not load the image projector {path}: it is not one, belongs "
                "to another model, or is damaged (download it again)"
            )
        self.spans: dict[int, ImageSpan] = {}
        if not mtmd.mtmd_support_vision(self.ctx):
            self.close()
            raise VisionError(f"{path.name} has no vision encoder")
        if mtmd.mtmd_decode_use_mrope(self.ctx):
            self.close()
            raise VisionError(
                f"{path.name} places image tokens with M-RoPE, which gemma-code's llama.cpp "
                "backend does not support yet"
            )
        self.marker = mtmd.mtmd_default_marker().decode()
        self.max_image_tokens = max_image_tokens
        self._llama_cpp = llama_cpp

    def tokenize(self, text: str, images: Sequence[ImagePart]) -> list[int]:
        """Tokens for `text`, whose markers stand for `images` in order; registers the spans."""
        mtmd = self._mtmd
        blobs = [_read(image) for image in images]
        bitmaps = []
        chunks = mtmd.mtmd_input_chunks_init()
        try:
            for blob, image in zip(blobs, images):
                buf = (ctypes.c_uint8 * len(blob)).from_buffer_copy(blob)
                bitmap = mtmd.mtmd_helper_bitmap_init_from_buf(self.ctx, buf, len(blob), False)
                if not bitmap:
                    raise VisionError(f"llama.cpp could not decode the image {image.path.name}")
                bitmaps.append(bitmap)
            raw = text.encode("utf-8")
            given = mtmd.mtmd_input_text()
            given.text, given.text_len = raw, len(raw)
            given.add_special, given.parse_special = False, True
            array = (mtmd.mtmd_bitmap_p_ctypes * len(bitmaps))(*bitmaps)
            status = mtmd.mtmd_tokenize(self.ctx, chunks, ctypes.byref(given), array, len(bitmaps))
            if status != 0:
                raise VisionError(
                    f"llama.cpp could not prepare {len(images)} image(s) for the prompt "
                    f"(mtmd_tokenize returned {status}; a message containing the text "
                    f"{self.marker} confuses it)"
                )
            return self._collect(chunks, blobs)
        finally:
            mtmd.mtmd_input_chunks_free(chunks)
            for bitmap in bitmaps:
                mtmd.mtmd_bitmap_free(bitmap)

    def _collect(self, chunks, blobs: list[bytes]) -> list[int]:
        mtmd = self._mtmd
        tokens: list[int] = []
        images = iter(blobs)
        for i in range(mtmd.mtmd_input_chunks_size(chunks)):
            chunk = mtmd.mtmd_input_chunks_get(chunks, i)
            if mtmd.mtmd_input_chunk_get_type(chunk) == mtmd.MTMD_INPUT_CHUNK_TYPE_TEXT:
                count = ctypes.c_size_t()
                ids = mtmd.mtmd_input_chunk_get_tokens_text(chunk, ctypes.byref(count))
                tokens.extend(ids[j] for j in range(count.value))
                continue
            n_tokens = mtmd.mtmd_input_chunk_get_n_tokens(chunk)
            if mtmd.mtmd_input_chunk_get_n_pos(chunk) != n_tokens:
                raise VisionError("this projector's images take fewer positions than tokens; "
                                  "gemma-code cannot cache them")
            ident = placeholder_id(next(images))
            if ident not in self.spans:
                self.spans[ident] = ImageSpan(mtmd.mtmd_input_chunk_copy(chunk), n_tokens)
            tokens.extend([ident] * n_tokens)
        return tokens

    def evaluate(self, llm, ident: int) -> int:
        """Encode the image `ident` into the KV cache at `llm.n_tokens`; returns its length."""
        llama_cpp = self._llama_cpp
        span = self.spans[ident]
        start = llm.n_tokens
        if start + span.n_tokens > llm.n_ctx():
            raise VisionError(f"the image needs {span.n_tokens} tokens and the context is full")
        new_past = llama_cpp.llama_pos(0)
        status = self._mtmd.mtmd_helper_eval_chunk_single(
            self.ctx, llm._ctx.ctx, span.chunk, llama_cpp.llama_pos(start),
            llama_cpp.llama_seq_id(0), llm.n_batch, False, ctypes.byref(new_past),
        )
        if status != 0:
            raise VisionError(f"llama.cpp failed to encode an image (error {status})")
        llm.input_ids[start : start + span.n_tokens] = ident
        llm.n_tokens = start + span.n_tokens
        return span.n_tokens

    def keep_only(self, tokens: Sequence[int]) -> None:
        """Free the encoded images no longer in the conversation."""
        live = {t for t in tokens if t < 0}
        for ident in [i for i in self.spans if i not in live]:
            self._mtmd.mtmd_input_chunk_free(self.spans.pop(ident).chunk)

    def close(self) -> None:
        self.keep_only(())
        if self.ctx:
            self._mtmd.mtmd_free(self.ctx)
            self.ctx = None


def _read(image: ImagePart) -> bytes:
    try:
        return image.path.read_bytes()
    except OSError as exc:
        raise VisionError(f"the image {image.path} is gone ({exc.strerror or exc})") from None
