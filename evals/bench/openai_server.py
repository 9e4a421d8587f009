"""The openai backend against a bare `openai` client, on one llama-cpp-python server, same prompt.

  bare     `client.chat.completions.create(stream=True)`, chunks counted as they come.
  backend  `OpenAIBackend.stream` on the same messages (no tools), its events counted.

Both at temperature 0 with the same `max_tokens`; time to first token (TTFT) from the request,
decode rate from the first text to the last (one chunk is one token on this server). Runs
alternate; medians are reported with gemma-code's share of the bare figure (goal: 97% or more).
A six-step session then reports the prompt tokens the server reused on steps 2-6, from its usage
where it reports it, else `n/a`.

    .venv/bin/python -m evals.bench.openai_server [--model qwen2.5-coder-1.5b] [-n 128] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from evals.harness.peers import ModelServer
from gemma_code.agent.events import TextDelta, Usage
from gemma_code.agent.messages import AssistantMessage, Message, UserMessage
from gemma_code.agent.protocols import GenerationOptions
from gemma_code.backends.models.registry import ensure_local, get_spec
from gemma_code.backends.openai_backend import OpenAIBackend, connect
from gemma_code.backends.openai_wire import chat_messages

PROMPT = ("Write a Python module implementing a binary search tree with insert, delete, search "
          "and in-order traversal, with docstrings and type hints.")


@dataclass
class Run:
    kind: str
    ttft: float  # seconds from the request to the first text
    rate: float  # tokens/s from the first text to the last


def _run(kind: str, started: float, stamps: list[float]) -> Run:
    if len(stamps) < 2:
        return Run(kind, float("nan"), float("nan"))
    return Run(kind, stamps[0] - started, (len(stamps) - 1) / (stamps[-1] - stamps[0]))


def bare_run(backend: OpenAIBackend, n: int) -> Run:
    """The same request through the client alone."""
    started, stamps = time.perf_counter(), []
    stream = backend.client.chat.completions.create(
        model=backend.model, messages=chat_messages([UserMessage.of(PROMPT)], False),
        max_tokens=n, temperature=0, stream=True)
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            stamps.append(time.perf_counter())
    return _run("bare", started, stamps)


def backend_run(backend: OpenAIBackend, n: int) -> Run:
    started, stamps = time.perf_counter(), []
    for event in backend.stream([UserMessage.of(PROMPT)], (), GenerationOptions(max_tokens=n, temperature=0)):
        if isinstance(event, TextDelta):
            stamps.append(time.perf_counter())
    return _run("gemma-code", started, stamps)


def session_reuse(backend: OpenAIBackend, steps: int = 6) -> list[str]:
    """Per step from the second: cached of prompt tokens, as the server reports them."""
    messages: list[Message] = [UserMessage.of("Name a prime number.")]
    shares = []
    for step in range(steps):
        usage, text = None, []
        for event in backend.stream(messages, (), GenerationOptions(max_tokens=16, temperature=0)):
            if isinstance(event, TextDelta):
                text.append(event.text)
            elif isinstance(event, Usage):
                usage = event
        messages += [AssistantMessage(text="".join(text)), UserMessage.of("Another one.")]
        if step and usage is not None:
            known = usage.cached_tokens is not None and usage.prompt_tokens
            shares.append(f"{usage.cached_tokens}/{usage.prompt_tokens}" if known else "n/a")
    return shares


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="qwen2.5-coder-1.5b")
    parser.add_argument("-n", "--tokens", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    log = Path(tempfile.mkdtemp(prefix="openai-bench-")) / "server.log"
    server = ModelServer(ensure_local(get_spec(args.model)), context_size=4096, chat_format=None,
                         log_file=log, n_threads=args.threads)
    server.start()
    try:
        backend = connect(server.url, "auto", None, 4096)
        runs = [run(backend, args.tokens) for _ in range(args.repeats) for run in (bare_run, backend_run)]
        reuse = session_reuse(backend)
    finally:
        server.stop()
    report(args, runs, reuse)
    return 0


def report(args, runs: list[Run], reuse: list[str]) -> None:
    def median(kind: str, field: str) -> float:
        return statistics.median(getattr(r, field) for r in runs if r.kind == kind)

    print(f"model {args.model}, {args.tokens} tokens, {args.repeats} runs each (medians)")
    for field, unit in (("rate", "tok/s"), ("ttft", "s")):
        bare, ours = median("bare", field), median("gemma-code", field)
        share = (ours / bare if field == "rate" else bare / ours) if bare and ours else float("nan")
        print(f"  {field:<5} bare {bare:8.3f} {unit}   gemma-code {ours:8.3f} {unit}   {100 * share:5.1f}%")
    print(f"  prompt tokens reused, steps 2-6 (cached/prompt): {', '.join(reuse) or 'n/a'}")


if __name__ == "__main__":
    raise SystemExit(main())
