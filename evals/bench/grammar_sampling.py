"""Decode speed of grammar-constrained tool calls: the grammar checked on the sampled token
first (`backends.sampling.CheckedSampler`, what gemma-code does) against the grammar applied to
the whole vocabulary before every sample (llama-cpp-python's sampler chain, what it did before).

One request, the drafting bench's `edit` case (a generated Python file in the prompt, every
default tool offered, "use edit_file to change one line"), prompted through gemma-code's llama.cpp
backend and answered under the tool-call grammar from the first token (`tool_choice="required"`)
at temperature 0, without drafting. Both ways alternate; each run prefills the same prompt and
decodes until the call ends. Printed: decode tokens/s (median), the tokens, and whether both
ways chose the same tokens (they must, greedily).

    .venv/bin/python -m evals.bench.grammar_sampling [--model qwen2.5-coder-1.5b] [--repeats 3]
"""

from __future__ import annotations

import statistics
import sys
import time

from evals.bench import Conditions, heading, load_model, parse_args, table
from evals.bench.drafting import case_request
from gemma_code.backends.drafting import DraftPolicy, DraftStats, PromptLookup, speculative_tokens
from gemma_code.backends.sampling import CheckedSampler

WAYS = ("token first", "whole vocabulary")


def _options(parser) -> None:
    parser.add_argument("--repeats", type=int, default=3, help="runs of each way (default 3)")
    parser.add_argument("--lines", type=int, default=60, help="lines in the file (default 60)")
    parser.add_argument("--max-tokens", type=int, default=400, help="(default 400)")


def one_run(backend, prompt: list[int], grammar, way: str,
            max_tokens: int) -> tuple[list[int], float]:
    """(tokens, decode seconds) of one call decoded under the tool grammar `grammar`."""
    llm = backend.llm
    llm.reset()
    backend.prefill(prompt, None)
    options = dict(top_k=40, top_p=0.95, min_p=0.05, temp=0.0, repeat_penalty=1.0)
    if way == "token first":
        sampler = CheckedSampler(llm, grammar, **options)
    else:
        sampler = llm._init_sampler(**options, grammar=grammar)
    tokens: list[int] = []
    started = time.perf_counter()
    stream = speculative_tokens(llm, sampler, PromptLookup(), DraftPolicy("off"), DraftStats(),
                                max_tokens)
    for token in stream:
        if backend.is_end(token) or len(tokens) >= max_tokens:
            break
        tokens.append(token)
    stream.close()
    return tokens, time.perf_counter() - started


def main() -> int:
    args = parse_args(__doc__.splitlines()[0], _options)
    conditions = Conditions(args.threads)
    spec, backend = load_model(args, temperature=0.0)
    from gemma_code.tools import default_tools
    from gemma_code.tools.base import tool_spec

    messages, tools, _ = case_request("edit", args.lines, [tool_spec(t) for t in default_tools()])
    prompt = backend.build_prompt(messages, tools)
    grammar = backend.constraint(tools, True)
    runs: dict[str, list[tuple[list[int], float]]] = {way: [] for way in WAYS}
    try:
        for repeat in range(args.repeats):
            for way in (WAYS if repeat % 2 == 0 else WAYS[::-1]):
                print(f"{way} run {repeat + 1}...", file=sys.stderr, flush=True)
                runs[way].append(one_run(backend, prompt, grammar, way, args.max_tokens))
    except KeyboardInterrupt:
        print("interrupted: the figures so far", file=sys.stderr)
    finally:
        backend.close()
    heading(f"tool-call decoding under the grammar, {spec.name}, temperature 0")
    reference = runs[WAYS[1]][0][0] if runs[WAYS[1]] else None
    rows = []
    for way in WAYS:
        if not runs[way]:
            continue
        rate = statistics.median(len(tokens) / seconds for tokens, seconds in runs[way])
        same = all(tokens == reference for tokens, _ in runs[way])
        rows.append([way, len(runs[way][0][0]), f"{rate:.1f}", "yes" if same else "no"])
    print(table(["grammar", "tokens", "decode tok/s", "same tokens"], rows))
    print(f"\n{len(prompt)}-token prompt; {args.repeats} run(s) of each way, alternating")
    print("\n".join(conditions.report()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
