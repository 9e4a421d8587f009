"""The llama.cpp backend, through llama-cpp-python.

One live `Llama` per session. The conversation is an append-only token sequence
(`prompt_history.PromptHistory`), so each step prefills only what is new.
"""

from __future__ import annotations

import codecs
import ctypes
from collections import deque
from collections.abc import Generator, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gemma_code.agent.events import BackendEvent, ToolCallParsed
from gemma_code.agent.messages import Message
from gemma_code.agent.protocols import AgentProfile, GenerationOptions, ToolSpec

from .models.spec import Sampling
from .cache_dir import user_cache_dir
from .chat_template import FALLBACK_TEMPLATES, ChatTemplate, ChatTemplateError
from .drafting import (
    DraftMode, DraftPolicy, DraftStats, PromptLookup, exact_draft_limit, remembered_exact_draft,
    speculative_tokens,
)
from .generation_step import GenerationStep
from .image_spans import VisionError, encode_with_images, image_start
from .llama_vision import Projector
from .threads import choose_threads
from .prompt_history import PromptHistory, common_prefix, tools_key


class ModelLoadError(Exception):
    """The model file could not be loaded; the message says why and what to try."""


_llama_errors: deque[str] = deque(maxlen=8)
_log_callback = None  # kept alive for as long as llama.cpp may call it


def _quiet_llama_log() -> None:
    """Keep llama.cpp's own log off the terminal; remember its errors for our messages."""
    global _log_callback
    if _log_callback is not None:
        return
    import llama_cpp

    @llama_cpp.llama_log_callback
    def keep_errors(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
        if level == 4:  # GGML_LOG_LEVEL_ERROR (ggml.h: none, debug, info, warn, error, cont)
            _llama_errors.append(text.decode("utf-8", "replace").strip())

    _log_callback = keep_errors
    llama_cpp.llama_log_set(keep_errors, ctypes.c_void_p(0))
    try:  # the image projector's library logs on its own
        import llama_cpp.mtmd_cpp as mtmd

        mtmd.mtmd_log_set(keep_errors, ctypes.c_void_p(0))
        mtmd.mtmd_helper_log_set(keep_errors, ctypes.c_void_p(0))
    except (ImportError, AttributeError, OSError):
        pass


def uses_amx() -> bool:
    """Whether this llama.cpp build runs matrix products on the CPU's AMX units."""
    import llama_cpp

    return b"AMX_INT8 = 1" in llama_cpp.llama_print_system_info()


@contextmanager
def amx_safe_loading() -> Iterator[None]:
    """Models loaded inside this block keep their weights out of llama.cpp's AMX buffers when
    the build uses AMX: its AMX kernels crash on the first matrix product with Q4_K weights
    (llama.cpp issue 20824, open; seen on Xeon Sapphire Rapids VMs). `Llama` sets no such
    option, so its default model parameters are swapped for the duration of the load. This
    also turns off weight repacking (decode about a fifth slower); a build without AMX keeps it."""
    if not uses_amx():
        yield
        return
    import llama_cpp.llama_cpp as native

    default = native.llama_model_default_params

    def without_extra_buffers():
        params = default()
        params.use_extra_bufts = False
        return params

    native.llama_model_default_params = without_extra_buffers
    try:
        yield
    finally:
        native.llama_model_default_params = default


def new_llama(**options: Any):
    """`llama_cpp.Llama(**options)`, loaded safely on CPUs with AMX (`amx_safe_loading`)."""
    from llama_cpp import Llama

    with amx_safe_loading():
        return Llama(**options)


class LlamaCppBackend:
    """A GGUF model run in-process by llama.cpp; a generation step's `Engine`."""

    name = "llama.cpp"

    def __init__(
        self,
        model_path: Path,
        *,
        context_size: int = 32768,
        sampling: Sampling = Sampling(),
        chat_format: str | None = None,
        n_gpu_layers: int = -1,
        n_threads: int | None = None,
        n_batch: int = 512,
        mmproj: Path | None = None,
        image_tokens: int = 280,
        draft: DraftMode = "off",
        profile: AgentProfile = AgentProfile(),
    ) -> None:
        """`mmproj`: the model's image projector; with it the model sees images, each costing
        at most `image_tokens` (a batch holds a whole image: its tokens attend both ways).
        `n_threads` (decode and batches alike): None is one per physical core. `draft`:
        prompt-lookup speculative decoding ("lookup": always; "auto": only drafts this build
        verifies exactly, paused while they keep missing; "off": plain `Llama.generate`)."""
        if mmproj is not None:
            n_batch = max(n_batch, image_tokens)
        self.threads = choose_threads(n_threads)
        self.llm = self._load(model_path, context_size, n_gpu_layers, self.threads.count, n_batch)
        import llama_cpp

        # looked up once: `piece` and `is_end` run for every generated token
        self._native, self._vocab = llama_cpp, self.llm._model.vocab
        self.model_path = model_path
        self.n_gpu_layers = n_gpu_layers
        self.context_size = self.llm.n_ctx()
        self.sampling = sampling
        self.profile = profile
        self.projector: Projector | None = None
        self.vision_error: str | None = None  # why an image projector given could not be used
        if mmproj is not None:
            try:
                self.projector = Projector(self.llm, mmproj, max_image_tokens=image_tokens)
            except VisionError as exc:
                self.vision_error = str(exc)
        self.vision = self.projector is not None
        self.template = self._template(chat_format)
        self.tool_format = self.template.tool_format
        self.history = PromptHistory(self.template, self._encode)
        self._grammars: dict[tuple[str, bool] | str, Any] = {}
        self.draft: DraftMode = draft
        self._lookup = PromptLookup()  # kept: each step's context continues the last one's
        self.exact_draft: int | None = None  # drafts "auto" may verify exactly; None: not tried

    @staticmethod
    def _load(path: Path, n_ctx: int, n_gpu_layers: int, n_threads: int, n_batch: int):
        if not Path(path).is_file():
            raise ModelLoadError(f"model file not found: {path}")
        _quiet_llama_log()
        _llama_errors.clear()
        try:
            return new_llama(
                model_path=str(path), n_ctx=n_ctx, n_batch=n_batch, n_ubatch=n_batch,
                n_gpu_layers=n_gpu_layers, n_threads=n_threads, n_threads_batch=n_threads,
                flash_attn=True, verbose=False,
            )
        except (ValueError, RuntimeError) as exc:
            why = "; ".join(_llama_errors) or str(exc)
            raise ModelLoadError(
                f"llama.cpp could not load {path}: {why}. Check that it is a complete GGUF "
                "file (re-download it) and that your llama-cpp-python is recent enough for "
                "this architecture."
            ) from exc

    def piece(self, token: int) -> bytes:
        """The text of `token` (it may end inside a UTF-8 character)."""
        buf = ctypes.create_string_buffer(256)
        n = self._native.llama_token_to_piece(self._vocab, token, buf, 256, 0, True)
        return buf.raw[: max(n, 0)]

    def is_end(self, token: int) -> bool:
        """Whether `token` ends the model's turn (an end-of-generation token)."""
        return self._native.llama_vocab_is_eog(self._vocab, token)

    def _template(self, chat_format: str | None) -> ChatTemplate:
        source = self.llm.metadata.get("tokenizer.chat_template")
        if not source:
            if chat_format not in FALLBACK_TEMPLATES:
                raise ChatTemplateError(
                    f"{self.model_path.name} has no chat template in its metadata, so gemma-code "
                    "cannot know its prompt format; use an instruction-tuned GGUF"
                )
            source = FALLBACK_TEMPLATES[chat_format]
        bos = self.piece(self.llm.token_bos()).decode("utf-8", "replace")
        eos = self.piece(self.llm.token_eos()).decode("utf-8", "replace")
        marker = self.projector.marker if self.projector else None
        return ChatTemplate(source, bos_token=bos, eos_token=eos, media_marker=marker)

    def tokenize(self, text: str) -> list[int]:
        return self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)

    def _encode(self, text: str, messages: Sequence[Message]) -> list[int]:
        return encode_with_images(text, messages, self.tokenize, self.projector)

    def build_prompt(self, messages: Sequence[Message], tools: Sequence[ToolSpec]) -> list[int]:
        """The token sequence for the next step, reusing the generated history when possible."""
        tokens = self.history.build(messages, tools)
        if self.projector is not None:
            self.projector.keep_only(tokens)
        return tokens

    # Generation: the `Engine` a step drives ---------------------------------------------

    def prefill(self, tokens: list[int], cancel) -> tuple[int, bool]:
        """Evaluate what the KV cache lacks; returns (tokens reused, finished)."""
        llm = self.llm
        cached = common_prefix(llm._input_ids[: llm.n_tokens], tokens)
        if cached == len(tokens) == llm.n_tokens and not llm._requires_eval:
            return cached, True  # the logits are those after the last token of `tokens`
        keep = min(cached, len(tokens) - 1)  # re-evaluate at least one token for fresh logits
        keep = image_start(tokens, keep)  # an image is encoded whole or not at all
        if keep > 0 and not llm._ctx.kv_cache_seq_rm(-1, keep, -1):
            keep = 0
        if keep == 0:
            llm.reset()
        llm.n_tokens = keep
        at = keep
        while at < len(tokens):
            if cancel is not None and cancel.is_set():
                return cached, False
            if tokens[at] < 0:
                at += self.projector.evaluate(llm, tokens[at])
                continue
            end = at
            while end < len(tokens) and end - at < llm.n_batch and tokens[end] >= 0:
                end += 1
            llm.eval(tokens[at:end])
            at = end
        return keep, True

    def constraint(self, tools: Sequence[ToolSpec], required: bool):
        """The tool-call grammar: with `required`, a whole call from the first token; without,
        the rest of a call after its opening marker (the step switches to it there)."""
        from .grammar import compile_grammar, tool_call_grammar

        key = (tools_key(tools), required)
        if key not in self._grammars:
            text = tool_call_grammar(tools, self.tool_format, include_open_marker=required)
            self._grammars[key] = compile_grammar(self.llm, text)
        return self._grammars[key]

    def grammar_constraint(self, gbnf: str):
        """`gbnf` compiled for this model (kept: a step may open the same call again)."""
        from .grammar import compile_grammar

        if gbnf not in self._grammars:
            self._grammars[gbnf] = compile_grammar(self.llm, gbnf)
        return self._grammars[gbnf]

    def sample(self, context: list[int], constraint, temperature: float | None,
               limit: int, drafts: DraftStats | None = None) -> Generator[int, Any, None]:
        """The tokens sampled after `context` under the grammar `constraint`, one at a time;
        the step stops at its budget (`limit`, which bounds the drafts). With drafting on,
        `drafts` counts the tokens drafted and accepted."""
        from .sampling import CheckedSampler

        s = self.sampling
        sampler = CheckedSampler(self.llm, constraint, top_k=s.top_k, top_p=s.top_p,
                                 min_p=s.min_p, repeat_penalty=s.repeat_penalty,
                                 temp=s.temperature if temperature is None else temperature)
        if self.draft == "auto" and self.exact_draft is None:
            self.exact_draft = self._exact_draft(context)
        plain = self.draft == "off" or (self.draft == "auto" and not self.exact_draft)
        if self.llm._is_recurrent or self.llm._is_hybrid:
            plain = True  # a recurrent state cannot roll back a rejected draft
        self.prefill(context, None)  # nothing to do when the step has just prefilled it
        self._lookup.follow(context)
        policy = DraftPolicy("off" if plain else self.draft, self.exact_draft or 0)
        return speculative_tokens(self.llm, sampler, self._lookup, policy,
                                  drafts if drafts is not None else DraftStats(), limit)

    def _exact_draft(self, context: list[int]) -> int | None:
        """How many drafted tokens this model's batches verify exactly (`exact_draft_limit`),
        remembered across starts for this model file, build, CPU and settings."""
        import llama_cpp

        def measure() -> int | None:
            self.prefill(context, None)
            found = exact_draft_limit(self.llm, context)
            self.prefill(context, None)
            return found

        stat = self.model_path.stat()
        facts = (self.model_path.resolve(), stat.st_size, stat.st_mtime_ns, llama_cpp.__version__,
                 llama_cpp.llama_print_system_info().decode(), self.threads.count,
                 self.n_gpu_layers, self.llm.n_batch)
        return remembered_exact_draft(facts, measure, user_cache_dir() / "drafting.json")

    def stream(
        self, messages: Sequence[Message], tools: Sequence[ToolSpec], options: GenerationOptions
    ) -> Iterator[BackendEvent]:
        prompt = self.build_prompt(messages, tools)
        run = _Run(self, prompt, tools, options)
        yield from run.events()
        self.history.record(prompt, run.generated, run.end_token, run.streamed_text, run.end_piece)

    def close(self) -> None:
        if self.projector is not None:
            self.projector.close()
        self.llm.close()


class _Run(GenerationStep):
    """One generation step on llama.cpp: switch to the tool grammar inside tool calls."""

    def __init__(self, backend: LlamaCppBackend, prompt: list[int], tools, options) -> None:
        super().__init__(backend, prompt, tools, options)
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")

    def _decode(self) -> Iterator[BackendEvent]:
        engine, tools, options = self.engine, self.tools, self.options
        constrain = options.constrain_tool_calls and bool(tools)
        grammar_on = constrain and options.tool_choice == "required"
        self.tokens = engine.sample(self.prompt,
                                    engine.constraint(tools, True) if grammar_on else None,
                                    options.temperature, self._budget(), self.drafts)
        try:
            return (yield from self._consume(constrain, grammar_on))
        finally:
            self.tokens.close()  # a drafting sampler trims its cache to what was taken

    def _consume(self, constrain: bool, grammar_on: bool) -> Iterator[BackendEvent]:
        engine, options, tokens = self.engine, self.options, self.tokens
        piece, is_end = engine.piece, engine.is_end  # bound once: they run per token
        calls = 0
        while True:
            token = next(tokens, None)
            if token is None:
                return "stop"
            if options.cancel is not None and options.cancel.is_set():
                return "cancelled"
            if is_end(token):
                self.end_token = token
                self.end_piece = piece(token).decode("utf-8", "replace")
                break
            self.generated.append(token)
            events = self.parser.feed(self.decoder.decode(piece(token)))
            calls += sum(isinstance(e, ToolCallParsed) for e in events)
            yield from self._emit(events)
            if calls and not self.parser.in_tool_call:
                return "tool_calls"  # one call per step: the result comes before anything else
            if len(self.generated) >= self._budget():
                yield from self._emit(self.parser.finish())
                return self._full_or_length()
            if self.runaway():
                yield from self.cut_runaway(self.parser.finish())
                return "length"
            rest = self.opened_call() if constrain and not grammar_on else None
            if rest is not None:
                # The model opened a tool call: constrain the rest of it with the tool grammar.
                grammar_on = True
                tokens.close()
                context = self.prompt + self.generated
                engine.prefill(context, None)
                tokens = self.tokens = engine.sample(
                    context, rest, options.temperature, self._budget() - len(self.generated),
                    self.drafts)
        events = self.parser.finish()
        calls += sum(isinstance(e, ToolCallParsed) for e in events)
        yield from self._emit(events)
        return "tool_calls" if calls else "stop"
