"""The MLX backend, through mlx-lm: Apple Silicon first, `mlx[cpu]` on Linux for tests.

It differs from the llama.cpp backend only where the libraries differ. Prompt building is the
same append-only token history (`prompt_history`), tool calls go through the same parser.
The prompt cache lives for the session: each step feeds only the tokens the cache lacks.
Gemma's sliding-window (rotating) caches cannot be trimmed once past the window, so a copy is
kept at the end of each answered step and a step that must rewind continues from it.
A Gemma 4 vision-language directory is loaded with mlx-vlm instead (`mlx_vision`): images
become spans in the same token history, and the same cache and prefill serve them.
"""

from __future__ import annotations

import copy
from collections.abc import Generator, Iterator, Sequence
from pathlib import Path

from gemma_code.agent.events import BackendEvent, ToolCallParsed
from gemma_code.agent.messages import Message
from gemma_code.agent.protocols import AgentProfile, GenerationOptions, ToolSpec

from .chat_template import FALLBACK_TEMPLATES, ChatTemplate, ChatTemplateError
from .generation_step import GenerationStep
from .image_spans import chunk_end, encode_with_images, image_start
from .mlx_vision import MlxVision, is_vision_dir
from .prompt_history import PromptHistory, common_prefix, tools_key
from .models.spec import Sampling

PREFILL_STEP = 512  # tokens per forward pass while prefilling; cancellation is checked between


class MlxLoadError(Exception):
    """The model directory could not be loaded; the message says why."""


def _load(model_dir: Path, image_tokens: int) -> tuple:
    """(model, tokenizer, images): mlx-vlm for a Gemma 4 vision-language directory (images is
    its `MlxVision`), mlx-lm otherwise (images is None)."""
    if is_vision_dir(model_dir):
        try:
            images = MlxVision(model_dir, max_image_tokens=image_tokens)
        except (OSError, ValueError, KeyError) as exc:
            raise MlxLoadError(f"mlx-vlm could not load {model_dir}: {exc}") from exc
        return images.logits, images.tokenizer, images
    from mlx_lm import load

    try:
        model, tokenizer = load(str(model_dir))
    except (OSError, ValueError, KeyError) as exc:
        raise MlxLoadError(f"mlx-lm could not load {model_dir}: {exc}") from exc
    return model, tokenizer, None


class MlxBackend:
    """An mlx-lm (or, with images, mlx-vlm) model directory run in-process; a generation
    step's `Engine`."""

    name = "mlx"

    def __init__(
        self, model_dir: Path, *, context_size: int = 32768, sampling: Sampling = Sampling(),
        chat_format: str | None = None, image_tokens: int = 280,
        profile: AgentProfile = AgentProfile(),
    ) -> None:
        """`image_tokens`: the most tokens one image may cost a vision-language model."""
        self.model, self.tokenizer, self.images = _load(Path(model_dir), image_tokens)
        self.vision = self.images is not None  # without it, images reach the model as OCR text
        self.model_path = Path(model_dir)
        self.context_size = context_size
        self.sampling = sampling
        self.profile = profile
        self.template = self._template(chat_format)
        self.tool_format = self.template.tool_format
        self.history = PromptHistory(self.template, self._encode)
        self.cache = self._new_cache()
        self.cached: list[int] = []  # the tokens the cache holds, in order
        self.snapshot: tuple[list[int], list] | None = None  # (tokens, cache) of an answered step
        self._lltok = None  # llguidance's tokenizer, built on the first constrained step
        self._grammars: dict[tuple[str, bool], str] = {}

    def constraint(self, tools: Sequence[ToolSpec], required: bool):
        """A logits processor that keeps tool calls well-formed (see `mlx_grammar`)."""
        from .mlx_grammar import (
            JsonOpening, ToolCallConstraint, compile_tool_grammar, ll_tokenizer, open_marker_token,
        )

        open_token = open_marker_token(self.tokenizer, self.tool_format)
        if self._lltok is None:
            self._lltok = ll_tokenizer(self.tokenizer)
        key = (tools_key(tools), required)
        if key not in self._grammars:
            self._grammars[key] = compile_tool_grammar(tools, self.tool_format, required=required,
                                                       encode=self.tokenize)
        opening = None if required else JsonOpening(tools, self.tool_format, self._text_of)
        return ToolCallConstraint(self._lltok, self._grammars[key], required=required,
                                  open_token=open_token, opening=opening)

    def _text_of(self, token: int) -> str:
        return self.tokenizer.decode([token])

    def grammar_constraint(self, gbnf: str) -> None:
        """None: mlx-lm samples a token ahead, so the step's switch would come late; the
        constraint watches the text itself (`mlx_grammar.JsonOpening`)."""
        return None

    def _template(self, chat_format: str | None) -> ChatTemplate:
        source = getattr(self.tokenizer, "chat_template", None)
        if not source:
            if chat_format not in FALLBACK_TEMPLATES:
                raise ChatTemplateError(
                    f"{self.model_path.name} has no chat template, so gemma-code cannot know "
                    "its prompt format; use an instruction-tuned model"
                )
            source = FALLBACK_TEMPLATES[chat_format]
        return ChatTemplate(source, bos_token=self.tokenizer.bos_token or "",
                            eos_token=self.tokenizer.eos_token or "",
                            media_marker=self.images.marker if self.images else None)

    def tokenize(self, text: str) -> list[int]:
        return list(self.tokenizer.encode(text, add_special_tokens=False))

    def _encode(self, text: str, messages: Sequence[Message]) -> list[int]:
        return encode_with_images(text, messages, self.tokenize, self.images)

    def _new_cache(self) -> list:
        from mlx_lm.models.cache import make_prompt_cache

        return make_prompt_cache(self.model)

    # The cache -----------------------------------------------------------------------

    def _rewind(self, keep: int, prompt: list[int]) -> int:
        """Make the cache hold `prompt[:n]` for the largest n <= keep it can; returns n."""
        from mlx_lm.models.cache import can_trim_prompt_cache, trim_prompt_cache

        if keep == len(self.cached):
            return keep
        if can_trim_prompt_cache(self.cache):
            trim_prompt_cache(self.cache, len(self.cached) - keep)
            self.cached = self.cached[:keep]
            return keep
        if self.snapshot is not None:
            tokens, cache = self.snapshot
            if len(tokens) <= keep and prompt[: len(tokens)] == tokens:
                self.cache, self.cached = copy.deepcopy(cache), list(tokens)
                return len(tokens)
        self.cache, self.cached = self._new_cache(), []
        return 0

    # Generation: the `Engine` a step drives ---------------------------------------------

    def prefill(self, prompt: list[int], cancel) -> tuple[int, bool]:
        """Feed the cache all but the last prompt token; returns (tokens reused, finished)."""
        import mlx.core as mx

        keep = min(common_prefix(self.cached, prompt), len(prompt) - 1)
        if self.images is not None:
            keep = image_start(prompt, keep)
        reused = self._rewind(keep, prompt)
        at = reused
        while at < len(prompt) - 1:
            if cancel is not None and cancel.is_set():
                return reused, False
            end = min(at + PREFILL_STEP, len(prompt) - 1)
            if self.images is None:
                chunk = prompt[at:end]
                self.model(mx.array(chunk)[None], cache=self.cache)
            else:
                chunk = prompt[at : chunk_end(prompt, at, end)]
                self.images.forward(chunk, self.cache)
            mx.eval([c.state for c in self.cache])
            self.cached.extend(chunk)
            at += len(chunk)
        return reused, True

    def sample(self, context: list[int], constraint, temperature: float | None,
               limit: int) -> Generator[int, None, None]:
        """mlx-lm's `generate_step` after the prefilled `context`: at most `limit` tokens, the
        logits processor `constraint` (if any) after the repetition penalty."""
        import mlx.core as mx
        from mlx_lm.generate import generate_step
        from mlx_lm.sample_utils import make_logits_processors, make_sampler

        s = self.sampling
        temp = s.temperature if temperature is None else temperature
        sampler = make_sampler(temp=temp, top_p=s.top_p, min_p=s.min_p, top_k=s.top_k)
        penalty = s.repeat_penalty if s.repeat_penalty != 1.0 else None
        processors = make_logits_processors(repetition_penalty=penalty)
        if constraint is not None:
            processors.append(constraint)
        steps = generate_step(
            mx.array(context[-1:]), self.model, prompt_cache=self.cache, max_tokens=limit,
            sampler=sampler, logits_processors=processors,
        )
        self.cached.append(context[-1])
        for token, _ in steps:
            self.cached.append(token)  # generate_step feeds each token before it yields it
            yield token

    def is_end(self, token: int) -> bool:
        """Whether `token` ends the model's turn (one of the tokenizer's end tokens)."""
        return token in self.tokenizer.eos_token_ids

    def piece(self, token: int) -> bytes:
        """The text of `token` alone (a step streams text through the detokenizer instead)."""
        return self.tokenizer.decode([token]).encode("utf-8")

    def _keep_snapshot(self) -> None:
        self.snapshot = (list(self.cached), copy.deepcopy(self.cache))

    def stream(
        self, messages: Sequence[Message], tools: Sequence[ToolSpec], options: GenerationOptions
    ) -> Iterator[BackendEvent]:
        prompt = self.history.build(messages, tools)
        if self.images is not None:
            self.images.keep_only(prompt)
        run = _Run(self, prompt, tools, options)
        yield from run.events()
        self.history.record(prompt, run.generated, run.end_token, run.streamed_text, run.end_piece)
        if run.finish == "stop":
            self._keep_snapshot()

    def close(self) -> None:
        self.cache, self.cached, self.snapshot = [], [], None
        if self.images is not None:
            self.images.keep_only(())


class _Run(GenerationStep):
    """One generation step on MLX: mlx-lm's sampler, with the grammar as a logits processor."""

    def __init__(self, backend: MlxBackend, prompt: list[int], tools, options) -> None:
        super().__init__(backend, prompt, tools, options)
        self.tokenizer = backend.tokenizer  # its streaming detokenizer turns tokens into text

    def _decode(self) -> Iterator[BackendEvent]:
        engine, tools, options = self.engine, self.tools, self.options
        is_end, detokenizer = engine.is_end, self.tokenizer.detokenizer
        detokenizer.reset()
        constraint = None
        if options.constrain_tool_calls and tools and options.tool_choice != "none":
            constraint = engine.constraint(tools, options.tool_choice == "required")
        calls = 0
        for token in engine.sample(self.prompt, constraint, options.temperature, self._budget()):
            if options.cancel is not None and options.cancel.is_set():
                return "cancelled"
            if is_end(token):
                self.end_token = token
                self.end_piece = engine.piece(token).decode("utf-8", "replace")
                break
            self.generated.append(token)
            detokenizer.add_token(token)
            events = self.parser.feed(detokenizer.last_segment)
            calls += sum(isinstance(e, ToolCallParsed) for e in events)
            yield from self._emit(events)
            if calls and not self.parser.in_tool_call:
                return "tool_calls"  # one call per step, as on llama.cpp
            if self.runaway():
                yield from self.cut_runaway(self.parser.finish())
                return "length"
        else:
            detokenizer.finalize()
            yield from self._emit(self.parser.feed(detokenizer.last_segment))
            yield from self._emit(self.parser.finish())
            return self._full_or_length()
        detokenizer.finalize()
        events = [*self.parser.feed(detokenizer.last_segment), *self.parser.finish()]
        calls += sum(isinstance(e, ToolCallParsed) for e in events)
        yield from self._emit(events)
        return "tool_calls" if calls else "stop"
