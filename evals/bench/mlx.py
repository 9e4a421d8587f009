"""The MLX backend measured: decode speed against bare mlx-lm, and cache reuse over 6 steps.

  decode   the same prompt, greedy, N new tokens, through `mlx_lm.stream_generate` (bare)
           and through `MlxBackend.stream` (no tools, grammar off); first token to last,
           runs alternating, medians reported, and the backend's share of the bare rate.
  reuse    a 6-step agent-shaped session: gemma-code's system prompt and tools, each step a
           grammar-forced tool call (the base model cannot choose well; the cache does not
           care), its result appended as a tool message; prompt tokens, tokens reused from the
           cache, and the share reused on steps 2-6.

The model is Gemma 3 270M converted from the bundled GGUF (cached under the model cache
dir), or any mlx-lm directory given with --model-dir.

    .venv/bin/python -m evals.bench.mlx [--model-dir DIR] [-n 64] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path


from gemma_code.agent.events import TextDelta, ToolCallParsed, Usage
from gemma_code.agent.messages import (
    AssistantMessage, SystemMessage, TextPart, ToolMessage, UserMessage,
)
from gemma_code.agent.protocols import GenerationOptions

PROMPT = "Write a long story about a lighthouse keeper who builds a clock out of driftwood."


def model_dir(args) -> Path:
    if args.model_dir:
        return Path(args.model_dir)
    from gemma_code.backends.models.mlx_convert import convert_gguf, is_converted
    from gemma_code.backends.models.registry import ensure_local, get_spec, models_cache_dir

    gguf, out = ensure_local(get_spec("gemma-3-270m")), models_cache_dir() / "mlx" / "gemma-3-270m"
    if not is_converted(gguf, out):
        print("converting gemma-3-270m (first run only)…", file=sys.stderr)
    return convert_gguf(gguf, out, chat_format="gemma3")


def bare_rate(model, tokenizer, prompt: list[int], n: int) -> tuple[float, int]:
    from mlx_lm import stream_generate
    from mlx_lm.sample_utils import make_sampler

    stamps = []
    for _ in stream_generate(model, tokenizer, prompt, max_tokens=n, sampler=make_sampler(temp=0.0)):
        stamps.append(time.perf_counter())
    return (len(stamps) - 1) / (stamps[-1] - stamps[0]), len(stamps)


def backend_rate(backend, n: int) -> tuple[float, int]:
    backend.cache, backend.cached = backend._new_cache(), []  # a cold cache, like the bare run
    backend.history.last = None
    stamps, usage = [], None
    options = GenerationOptions(max_tokens=n, temperature=0.0, constrain_tool_calls=False)
    for event in backend.stream([UserMessage.of(PROMPT)], (), options):
        if isinstance(event, TextDelta):
            stamps.append(time.perf_counter())
        elif isinstance(event, Usage):
            usage = event
    return (usage.completion_tokens - 1) / (stamps[-1] - stamps[0]), usage.completion_tokens


def decode(backend, n: int, repeats: int) -> None:
    prompt = backend.tokenize(backend.template.render([UserMessage.of(PROMPT)], (), True))
    bare, ours = [], []
    for _ in range(repeats):
        bare.append(bare_rate(backend.model, backend.tokenizer, prompt, n))
        ours.append(backend_rate(backend, n))
    b = statistics.median(r for r, _ in bare)
    o = statistics.median(r for r, _ in ours)
    print("\n## decode, first token to last (tokens/s)\n")
    print("| run | bare mlx-lm | gemma-code |\n| --- | --- | --- |")
    for i, ((br, bn), (orate, on)) in enumerate(zip(bare, ours), 1):
        print(f"| {i} | {br:.2f} ({bn} tokens) | {orate:.2f} ({on} tokens) |")
    print(f"\nmedian: bare {b:.2f}, gemma-code {o:.2f} tokens/s = {100 * o / b:.1f}% of bare")


def reuse(backend) -> None:
    import tempfile

    from gemma_code.agent.prompts import system_prompt
    from gemma_code.tools import default_tools
    from gemma_code.tools.base import tool_spec

    backend.cache, backend.cached, backend.history.last = backend._new_cache(), [], None
    tools = [tool_spec(t) for t in default_tools()]
    messages: list = [
        SystemMessage(content=system_prompt(Path(tempfile.mkdtemp()))),
        UserMessage.of("Find where the config file is read and add a --verbose flag."),
    ]
    options = GenerationOptions(max_tokens=60, temperature=0.0, tool_choice="required")
    print("\n## cache reuse over 6 steps\n")
    print("| step | prompt tokens | reused | new | reused % |\n| --- | --- | --- | --- | --- |")
    shares = []
    for step in range(1, 7):
        events = list(backend.stream(messages, tools, options))
        usage = events[-1]
        calls = [e.call for e in events if isinstance(e, ToolCallParsed)]
        share = 100 * usage.cached_tokens / usage.prompt_tokens
        if step > 1:
            shares.append(share)
        print(f"| {step} | {usage.prompt_tokens} | {usage.cached_tokens} | "
              f"{usage.prompt_tokens - usage.cached_tokens} | {share:.1f} |")
        text = "".join(e.text for e in events if isinstance(e, TextDelta))
        messages.append(AssistantMessage(text=text, tool_calls=tuple(calls)))
        for call in calls:
            messages.append(ToolMessage(call_id=call.id, name=call.name, content=(
                TextPart(text=f"(result of {call.name}: 3 lines of output)"),)))
    print(f"\nsteps 2-6 reused {statistics.fmean(shares):.1f}% of their prompt tokens "
          f"(lowest {min(shares):.1f}%)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", help="an mlx-lm model directory (default: Gemma 3 270M)")
    parser.add_argument("-n", "--tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--reuse-only", action="store_true", help="skip the decode comparison")
    args = parser.parse_args()
    from gemma_code.backends.mlx_backend import MlxBackend

    backend = MlxBackend(model_dir(args), context_size=8192, chat_format="gemma3")
    if not args.reuse_only:
        decode(backend, args.tokens, args.repeats)
    reuse(backend)
    return 0


if __name__ == "__main__":
    sys.exit(main())
