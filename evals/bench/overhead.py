"""Decode speed through gemma-code's backend vs bare llama-cpp-python, same prompt and model.

  bare     `Llama(model_path, n_ctx, n_batch=512, n_threads, flash_attn=True)`; the prompt is
           prefilled with `eval`, then `generate` draws N tokens.
  backend  `LlamaCppBackend.stream` on the same text (one user message, no tools, grammar off)
           with the same sampler at temperature 0 and `max_tokens=N`.

Both are timed from the first token to the last (the first token is not counted); the
backend also by its own `Usage` (completion_tokens / decode_seconds) and from outside its
event iterator. Runs alternate in order; medians are reported.

    .venv/bin/python -m evals.bench.overhead [--model qwen2.5-coder-1.5b] [--threads 2]
"""

from __future__ import annotations

import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path


from evals.bench import (
    Conditions, TokenClock, first_to_last_rate, heading, load_model, parse_args, table,
)
from gemma_code.agent.events import Usage
from gemma_code.agent.messages import UserMessage
from gemma_code.agent.protocols import GenerationOptions

PROMPT = (
    "Write a complete Python module implementing a binary search tree with insert, delete, "
    "search, and in-order traversal, with docstrings on every class and method, type hints, "
    "and a short usage example at the end."
)


@dataclass
class Run:
    kind: str  # "bare" or "backend"
    tokens: list[int]
    rate: float  # first to last token, tokens/s
    usage_rate: float = float("nan")  # backend only: Usage.completion_tokens / decode_seconds
    outside_rate: float = float("nan")  # backend only: completion tokens / time around the iterator
    prompt: list[int] | None = None  # backend only: the prompt it built
    cores: float = float("nan")  # CPU seconds / wall seconds of the run: below `threads` = contended

    @property
    def n(self) -> int:
        return len(self.tokens)


def _options(args) -> None:
    args.add_argument("-n", "--tokens", type=int, default=128, help="tokens per run (default 128)")
    args.add_argument("--repeats", type=int, default=3, help="runs of each kind (default 3)")


def load_bare(path: Path, n_ctx: int, threads: int):
    from gemma_code.backends.llama_cpp import new_llama

    return new_llama(model_path=str(path), n_ctx=n_ctx, n_batch=512, n_threads=threads, n_threads_batch=threads,
                 flash_attn=True, verbose=False)


def bare_run(llm, prompt: list[int], n: int, sampling) -> Run:
    """Prefill `prompt`, then time up to `n` tokens drawn from `generate`."""
    import llama_cpp

    vocab = llm._model.vocab
    llm.reset()
    llm.eval(prompt)  # prefill outside the decode timing; generate() then samples at once
    tokens, times = [], []
    for token in llm.generate(prompt, top_k=sampling.top_k, top_p=sampling.top_p,
                              min_p=sampling.min_p, temp=sampling.temperature,
                              repeat_penalty=sampling.repeat_penalty):
        if llama_cpp.llama_vocab_is_eog(vocab, token):
            break
        tokens.append(token)
        times.append(time.perf_counter())
        if len(tokens) == n:
            break
    return Run("bare", tokens, first_to_last_rate(times))


def backend_run(backend, clock: TokenClock, n: int) -> Run:
    """One `stream` step on an empty KV cache, timed by the token clock, Usage and outside."""
    backend.llm.reset()  # a full prefill each run, as for the bare runs
    options = GenerationOptions(max_tokens=n, constrain_tool_calls=False)
    clock.take()
    called = time.perf_counter()
    usage = None
    for event in backend.stream([UserMessage.of(PROMPT)], [], options):
        if isinstance(event, Usage):
            usage = event
            ended = time.perf_counter()
    call = clock.take()[0]
    tokens = call.tokens[: usage.completion_tokens]
    outside = usage.completion_tokens / (ended - called - usage.prefill_seconds)
    return Run("backend", tokens, first_to_last_rate(call.times[: len(tokens)]),
               usage.decode_tokens_per_second, outside, call.prompt)


def measured(run) -> Run:
    """`run()`, with the cores it kept busy on average."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = run()
    result.cores = (time.process_time() - cpu) / (time.perf_counter() - wall)
    return result


def alternate(repeats: int, bare, backend) -> list[Run]:
    """`repeats` runs of each, alternating which goes first."""
    runs = []
    for i in range(repeats):
        for run in ((bare, backend) if i % 2 == 0 else (backend, bare)):
            r = measured(run)
            runs.append(r)
            print(f"  run {i + 1} {r.kind:<7} {len(r.tokens)} tokens, {r.rate:.2f} tok/s, "
                  f"{r.cores:.2f} cores busy", file=sys.stderr, flush=True)
    return runs


def median(runs: list[Run], field: str) -> float:
    values = [getattr(r, field) for r in runs]
    return statistics.median(values) if values else float("nan")


def best(runs: list[Run], field: str) -> float:
    return max((getattr(r, field) for r in runs), default=float("nan"))


def summary_rows(bare: list[Run], ours: list[Run]) -> list[list]:
    nan = float("nan")
    rows = []
    for name, pick in (("median", median), ("best", best)):
        rows.append([f"bare {name}", int(pick(bare, "n")), pick(bare, "rate"), nan, nan])
        rows.append([f"backend {name}", int(pick(ours, "n")), pick(ours, "rate"),
                     pick(ours, "usage_rate"), pick(ours, "outside_rate")])
    return rows


def report(args, spec, runs: list[Run], prompt: list[int], conditions) -> None:
    bare = [r for r in runs if r.kind == "bare"]
    ours = [r for r in runs if r.kind == "backend"]
    same_prompt = all(r.prompt == prompt for r in ours)
    heading("decode speed: gemma-code backend vs bare llama-cpp-python")
    print(f"model {spec.name}; prompt {len(prompt)} tokens (chat template, one user message, "
          f"no tools); {args.tokens} tokens per run; temperature 0 (greedy), top_k "
          f"{spec.sampling.top_k}, top_p {spec.sampling.top_p}, min_p {spec.sampling.min_p}, "
          f"repeat_penalty {spec.sampling.repeat_penalty} on both; n_batch 512, flash_attn on, "
          f"{args.threads} threads, n_ctx {args.ctx or spec.context_size}")
    print(f"same prompt tokens: {'yes' if same_prompt else 'NO'}; identical generated tokens "
          f"in every run: {'yes' if len({tuple(r.tokens) for r in runs}) == 1 else 'NO'}")
    print()
    headers = ["run", "tokens", "first->last tok/s", "Usage tok/s", "outside tok/s"]
    rows = [[f"{r.kind} #{i // 2 + 1}", r.n, r.rate, r.usage_rate, r.outside_rate, r.cores]
            for i, r in enumerate(runs)]
    print(table([*headers, "cores busy"], rows))
    print()
    print(table(headers, summary_rows(bare, ours)))
    print()
    ratio = median(ours, "rate") / median(bare, "rate")
    print(f"backend / bare decode speed, medians (first->last): {100 * ratio:.1f}% "
          f"(goal >= 95%: {'met' if ratio >= 0.95 else 'NOT met'})")
    print(f"backend / bare decode speed, best runs (first->last): "
          f"{100 * best(ours, 'rate') / best(bare, 'rate'):.1f}% (contention only ever slows a run down)")
    print(f"backend Usage figure / bare, medians: "
          f"{100 * median(ours, 'usage_rate') / median(bare, 'rate'):.1f}% "
          "(Usage times decode from the end of prefill, so the first token and its wait count)")
    print("\n".join(conditions.report()))


def main() -> int:
    args = parse_args(__doc__.splitlines()[0], _options)
    conditions = Conditions(args.threads)
    spec, backend = load_model(args, temperature=0.0)
    bare_llm = load_bare(backend.model_path, backend.context_size, args.threads)
    clock = TokenClock(backend.llm)
    prompt = backend.tokenize(backend.template.render([UserMessage.of(PROMPT)], [], True))
    sampling = backend.sampling
    runs = alternate(args.repeats, lambda: bare_run(bare_llm, prompt, args.tokens, sampling),
                     lambda: backend_run(backend, clock, args.tokens))
    bare_llm.close()
    backend.close()
    report(args, spec, runs, prompt, conditions)
    return 0


if __name__ == "__main__":
    sys.exit(main())
