"""Images on the MLX backend, through mlx-vlm: the Gemma 4 family (`gemma4`, `gemma4_unified`).

mlx-vlm loads the model and its processor; the MLX backend keeps its own prompt cache and
chunked prefill, and this module feeds the language model the way mlx-vlm's `generate_step`
does (embeddings with the image features in place of the image tokens, `mm_token_type_ids`
marking them). As on llama.cpp, an image is a span of negative placeholder ids in the token
history (`image_spans`), derived from the image's bytes, so prefix reuse matches an image
only with itself. Its features are computed on the first pass that needs them and kept while
the image is in the conversation. A forward pass holds whole images: Gemma 4's image tokens
attend to each other both ways.
"""

from __future__ import annotations

import importlib
import io
import json
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from gemma_code.agent.messages import ImagePart

from .image_spans import VisionError, placeholder_id

MODEL_TYPES = ("gemma4", "gemma4_unified")  # mlx-vlm models with this language model and API


def is_vision_dir(model_dir: Path) -> bool:
    """Whether `model_dir` is a Gemma 4 vision-language model and mlx-vlm imports."""
    try:
        config = json.loads((Path(model_dir) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not config.get("vision_config") or config.get("model_type") not in MODEL_TYPES:
        return False
    try:
        importlib.import_module("mlx_vlm.utils")  # the backend loads the model with it next
    except ImportError:
        return False
    return True


@dataclass
class _Span:
    tokens: list[int]  # the image as the processor lays it out, placeholders for its features
    inputs: dict | None  # the processor's pixel values, until the image is encoded
    features: object = None  # mx.array (soft tokens, hidden), once encoded


class MlxVision:
    """An mlx-vlm model and processor, fed one prefill chunk at a time."""

    def __init__(self, model_dir: Path, *, max_image_tokens: int) -> None:
        from mlx_lm.tokenizer_utils import TokenizerWrapper
        from mlx_vlm.utils import load

        with warnings.catch_warnings():  # the audio feature extractor's, about its defaults
            warnings.simplefilter("ignore", UserWarning)
            self.model, self.processor = load(str(model_dir))
        config = self.model.config
        self.image_token_id = config.image_token_id
        # mlx-lm's interface over mlx-vlm's tokenizer and streaming detokenizer (a second
        # detokenizer would take seconds to build for Gemma's 262k-token vocabulary).
        self.tokenizer = TokenizerWrapper(self.processor.tokenizer,
                                          lambda _: self.processor.detokenizer,
                                          eos_token_ids=config.eos_token_id)
        self.marker = self.processor.tokenizer.convert_ids_to_tokens(self.image_token_id)
        self.max_image_tokens = max_image_tokens
        self.spans: dict[int, _Span] = {}  # by placeholder id
        self.logits = _Logits(self.model)
        _see_whole_images(self.model.language_model.model)

    def tokenize(self, text: str, images: Sequence[ImagePart]) -> list[int]:
        """Tokens for `text`, whose image markers stand for `images` in order."""
        pieces = text.split(self.marker)
        if len(pieces) - 1 != len(images):
            raise VisionError(f"the prompt has {len(pieces) - 1} image markers for "
                              f"{len(images)} images (a message containing {self.marker} "
                              "confuses it)")
        tokens = self._text(pieces[0])
        for image, piece in zip(images, pieces[1:]):
            tokens += self._span(image) + self._text(piece)
        return tokens

    def _text(self, text: str) -> list[int]:
        return list(self.tokenizer.encode(text, add_special_tokens=False))

    def _span(self, image: ImagePart) -> list[int]:
        """The image's tokens as the processor lays them out, its soft tokens as placeholders."""
        try:
            blob = image.path.read_bytes()
        except OSError as exc:
            raise VisionError(f"the image {image.path} is gone ({exc.strerror or exc})") from None
        ident = placeholder_id(blob)
        if ident not in self.spans:
            inputs = self.processor(text=self.marker, images=[_decode(blob, image)],
                                    add_special_tokens=False, max_soft_tokens=self.max_image_tokens)
            ids = inputs["input_ids"][0].tolist()
            ids = [ident if t == self.image_token_id else t for t in ids]
            pixels = {k: inputs[k] for k in ("pixel_values", "image_position_ids") if k in inputs}
            self.spans[ident] = _Span(ids, pixels)
        return list(self.spans[ident].tokens)

    def keep_only(self, tokens: Sequence[int]) -> None:
        """Forget the images no longer in the conversation."""
        live = {t for t in tokens if t < 0}
        for ident in [i for i in self.spans if i not in live]:
            del self.spans[ident]

    def _features(self, ident: int):
        import mlx.core as mx

        span = self.spans[ident]
        if span.features is None:
            pixels = span.inputs
            features = self.model.encode_image(pixels["pixel_values"],
                                               pixels.get("image_position_ids"))
            features = features.reshape(-1, features.shape[-1])
            expected = span.tokens.count(ident)
            if features.shape[0] != expected:
                raise VisionError(f"the image encoder gave {features.shape[0]} features for "
                                  f"{expected} image tokens")
            mx.eval(features)
            span.features, span.inputs = features, None
        return span.features

    def forward(self, tokens: Sequence[int], cache: list) -> None:
        """Feed `tokens` (whole images only) into `cache`, as mlx-vlm's prefill does."""
        import mlx.core as mx

        ids = mx.array([self.image_token_id if t < 0 else t for t in tokens])[None]
        embedded = self.model.get_input_embeddings(input_ids=ids)
        embeds, extra = embedded.inputs_embeds, {}
        runs = _image_runs(tokens)
        if runs:
            pieces, at = [], 0
            for start, end, ident in runs:
                features = self._features(ident).astype(embeds.dtype)
                pieces += [embeds[:, at:start], features[None]]
                at = end
            pieces.append(embeds[:, at:])
            embeds = mx.concatenate(pieces, axis=1)
            extra["mm_token_type_ids"] = mx.array([[int(t < 0) for t in tokens]])
        self.model.language_model(ids, inputs_embeds=embeds, cache=cache, logits_to_keep=1,
                                  per_layer_inputs=embedded.per_layer_inputs, **extra)


class _Logits:
    """The language model as mlx-lm's `generate_step` calls a model: tokens in, logits out."""

    def __init__(self, model) -> None:
        self.model = model

    def __call__(self, inputs, cache=None, **kwargs):
        return self.model.language_model(inputs, cache=cache, **kwargs).logits

    def make_cache(self) -> list:
        return self.model.make_cache()


def _decode(blob: bytes, image: ImagePart):
    from PIL import Image, UnidentifiedImageError

    try:
        return Image.open(io.BytesIO(blob)).convert("RGB")
    except (UnidentifiedImageError, OSError):
        raise VisionError(f"{image.path.name} cannot be decoded as an image") from None


def _image_runs(tokens: Sequence[int]) -> list[tuple[int, int, int]]:
    """(start, end, id) of each image in `tokens`."""
    runs: list[tuple[int, int, int]] = []
    for i, t in enumerate(tokens):
        if t >= 0:
            continue
        if runs and runs[-1][1] == i and runs[-1][2] == t:
            runs[-1] = (runs[-1][0], i + 1, t)
        else:
            runs.append((i, i + 1, t))
    return runs


def _see_whole_images(text_model) -> None:
    """Let image tokens attend to their whole image in a pass that starts past other tokens.

    mlx-vlm's Gemma 4 adds the bidirectional image blocks to the mask only when a pass starts
    at an empty cache (a square mask); its own prompt cache is reused only when the new tokens
    are text. Here an image often arrives later in a conversation, so the same blocks go on
    the new tokens' columns of the mask.
    """
    import mlx.core as mx

    if getattr(text_model.config, "use_bidirectional_attention", None) != "vision":
        return
    make_masks = text_model._make_masks

    def masks(h, cache, mm_token_type_ids=None):
        made = make_masks(h, cache, mm_token_type_ids)
        if mm_token_type_ids is None or h.shape[1] < 2:
            return made
        kinds = mm_token_type_ids[0]
        image = (kinds == 1) | (kinds == 2)
        if not mx.any(image).item():
            return made
        starts = image & ~mx.concatenate([mx.array([False]), image[:-1]])
        block = mx.where(image, mx.cumsum(starts.astype(mx.int32)) - 1, -1)
        same = (block[:, None] == block[None, :]) & (block[:, None] >= 0)
        n = h.shape[1]
        return [
            mx.concatenate([m[..., :-n], m[..., -n:] | same], axis=-1)
            if isinstance(m, mx.array) and m.shape[-1] > n else m
            for m in made
        ]

    text_model._make_masks = masks
