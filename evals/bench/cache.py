"""KV-cache reuse over a real six-step agent session.

The real agent loop (`run_turn`, approval "auto", the default tools) works in a small git
repository on a bug-fix task; when the model ends a turn early, the next scripted user
request starts another turn in the same conversation, until six model steps have run. For
each step: prompt tokens, tokens reused from the cache, time to first token (prefill plus
the first sampled token), and, for steps 2-6, the time to first token of a COLD prefill of
the very same prompt on a second model instance with an empty KV cache.

    .venv/bin/python -m evals.bench.cache [--model qwen2.5-coder-1.5b] [--threads 2]
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path


from evals.bench import (
    Conditions, TokenClock, generated_text, heading, load_model, make_demo_repo,
    parse_args, percent, table,
)
from gemma_code.agent.approval import DenyApprover
from gemma_code.agent.events import (
    StepStarted, TextDelta, ToolCallStarted, ToolFinished, TurnDone, Usage,
)
from gemma_code.agent.loop import Agent, run_turn
from gemma_code.agent.messages import SystemMessage, UserMessage
from gemma_code.agent.prompts import system_prompt
from gemma_code.backends.prompt_history import common_prefix
from gemma_code.agent.protocols import GenerationOptions, ToolContext
from gemma_code.agent.registry import ToolRegistry
from gemma_code.agent.workspace import LocalWorkspace
from gemma_code.tools import default_tools

REQUESTS = [  # the first is the task; the rest start a new turn if the model stops early
    "`python test_calc.py` fails with an AssertionError. Read calc.py, fix the bug in add, "
    "then run `python test_calc.py` to check.",
    "Now add a function multiply(a, b) to calc.py, then run `python test_calc.py` again.",
    "Show me `git diff` of your changes.",
    "Commit the changes with the message 'fix add'.",
    "Which Python files are in the repository?",
    "Show the last commit with `git log -1 --stat`.",
    "Read README.md.",
]


@dataclass
class Step:
    number: int
    turn: int
    action: str  # the tool called, or "answer"
    usage: Usage
    first_sample: float  # seconds from the sampler's start to the first token
    since_step: float  # seconds from the loop's StepStarted to the first token
    rerender_reuse: int  # tokens a plain re-render of the history would share with the cache
    carried: int  # tokens the KV cache held after the previous step (its prompt + output)
    cold_ttft: float = float("nan")

    @property
    def new(self) -> int:
        return self.usage.prompt_tokens - self.usage.cached_tokens

    @property
    def warm_ttft(self) -> float:
        return self.usage.prefill_seconds + self.first_sample


def _options(args) -> None:
    args.add_argument("--max-tokens", type=int, default=512, help="per model step (default 512)")
    args.add_argument("--no-grammar", action="store_true", help="constrain_tool_calls=False")
    args.add_argument("--steps", type=int, default=6, help="model steps to run (default 6)")
    args.add_argument("--map", action="store_true", help="put the repo map and the files each "
                      "request points at into the user message, as a session does")


def make_agent(backend, root: Path, args) -> Agent:
    """The agent a headless `--approval auto` session builds, on `backend`."""
    registry = ToolRegistry(default_tools(), "auto", DenyApprover())
    return Agent(
        backend=backend, tools=registry,
        ctx=ToolContext(LocalWorkspace(root), threading.Event(), shell_timeout=60.0),
        options=GenerationOptions(max_tokens=args.max_tokens, constrain_tool_calls=not args.no_grammar),
        messages=[SystemMessage(content=system_prompt(root, registry.names()))],
    )


def cold_ttft(llm, prompt: list[int], sampling) -> float:
    """Seconds to prefill `prompt` into an empty KV cache and sample one token."""
    llm.reset()
    started = time.perf_counter()
    llm.eval(prompt)
    llm.sample(top_k=sampling.top_k, top_p=sampling.top_p, min_p=sampling.min_p,
               temp=sampling.temperature, repeat_penalty=sampling.repeat_penalty)
    return time.perf_counter() - started


def rerender_reuse(backend, messages, specs, cache: list[int]) -> int:
    """How much of `cache` a plain re-render of `messages` would keep (the naive approach)."""
    tokens = backend.tokenize(backend.template.render(messages, specs, True))
    return common_prefix(tokens, cache)


class SessionRecorder:
    """Runs turns of the agent and records each model step until enough have run."""

    def __init__(self, agent: Agent, clock: TokenClock, cold, sampling, steps: int) -> None:
        self.agent, self.clock, self.cold, self.sampling = agent, clock, cold, sampling
        self.wanted = steps
        self.context = None  # Settings: add the repo map and attached files, as a session does
        self.steps: list[Step] = []
        self.log: list[str] = []
        self._cache: list[int] = []  # what the KV cache held after the previous step

    def run(self) -> list[Step]:
        for turn, request in enumerate(REQUESTS, start=1):
            self.log.append(f"turn {turn} user: {request}")
            if self._turn(turn, request):
                break
        return self.steps

    def _turn(self, turn: int, request: str) -> bool:
        """One user turn; True once enough steps have run."""
        specs = self.agent.tools.specs()
        user = UserMessage.of(request)
        if self.context is not None:
            from gemma_code.agent.context import add_context

            user, said = add_context(self.agent, self.context, user)
            self.log.append(f"  {said.line() if hasattr(said, 'line') else said}")
        events = run_turn(self.agent, user)
        rerender, started, text = 0, 0.0, []
        for event in events:
            if isinstance(event, StepStarted):
                rerender = rerender_reuse(self.agent.backend, self.agent.messages, specs, self._cache)
                self.clock.take()
                started, text = time.perf_counter(), []
            elif isinstance(event, TextDelta):
                text.append(event.text)
            elif isinstance(event, Usage):
                self._record(turn, event, started, rerender)
                if event.finish_reason != "tool_calls":
                    said = " ".join("".join(text).split())
                    self.log.append(f"  step {len(self.steps)}: answer ({event.finish_reason}) {said!r}"[:160])
            elif isinstance(event, ToolCallStarted):
                last = self.steps[-1]
                last.action = event.call.name if last.action == "answer" else f"{last.action}+{event.call.name}"
                self.log.append(f"  step {len(self.steps)}: {event.call.name} {event.call.arguments}"[:160])
            elif isinstance(event, ToolFinished):
                self.log.append(f"    -> {'error: ' if event.is_error else ''}{event.summary}"[:160])
            elif isinstance(event, TurnDone):
                self.log.append(f"  turn ends: {event.reason}")
            if self._finished(event):
                events.close()
                return True
        return False

    def _finished(self, event) -> bool:
        """The last step is recorded and labelled (with its tool, if it called one)."""
        if len(self.steps) < self.wanted:
            return False
        if isinstance(event, ToolCallStarted):
            return True
        return isinstance(event, Usage) and event.finish_reason != "tool_calls"

    def _record(self, turn: int, usage: Usage, started: float, rerender: int) -> None:
        calls = self.clock.take()
        first = calls[0] if calls else None
        step = Step(
            number=len(self.steps) + 1, turn=turn, action="answer", usage=usage,
            first_sample=first.first_token_seconds if first else float("nan"),
            since_step=first.times[0] - started if first and first.times else float("nan"),
            rerender_reuse=rerender, carried=len(self._cache),
        )
        if calls:
            self._cache = calls[-1].prompt + calls[-1].tokens
            raw = generated_text(self.agent.backend.llm, calls)
            self.log.append(f"  step {step.number} wrote: {raw!r}"[:200])
        if step.number > 1 and first:
            step.cold_ttft = cold_ttft(self.cold, first.prompt, self.sampling)
        self.steps.append(step)
        print(f"  step {step.number}: prompt {usage.prompt_tokens}, cached {usage.cached_tokens}, "
              f"warm TTFT {step.warm_ttft:.1f} s, cold TTFT {step.cold_ttft:.1f} s, "
              f"{usage.completion_tokens} tokens generated ({usage.finish_reason})",
              file=sys.stderr, flush=True)


def step_rows(steps: list[Step]) -> list[list]:
    return [[
        s.number, s.turn, s.action, s.usage.prompt_tokens, s.usage.cached_tokens, s.new,
        percent(s.usage.cached_tokens, s.usage.prompt_tokens),
        percent(s.usage.cached_tokens, s.carried) if s.number > 1 else "-",
        percent(s.rerender_reuse, s.usage.prompt_tokens) if s.number > 1 else "-",
        s.usage.prefill_seconds, 1000 * s.first_sample, s.warm_ttft, s.since_step, s.cold_ttft,
        s.cold_ttft / s.warm_ttft if s.number > 1 else float("nan"), s.usage.completion_tokens,
    ] for s in steps]


def summary(steps: list[Step]) -> list[str]:
    later = steps[1:]
    prompt = sum(s.usage.prompt_tokens for s in later)
    cached = sum(s.usage.cached_tokens for s in later)
    rerender = sum(s.rerender_reuse for s in later)
    carried = sum(s.carried for s in later)
    warm = [s.warm_ttft for s in later]
    cold = [s.cold_ttft for s in later]
    share = cached / prompt if prompt else 0.0
    return [
        f"steps 2-{len(steps)}: {cached} of {prompt} prompt tokens reused from the cache = "
        f"{100 * share:.1f}% (goal >= 90%: {'met' if share >= 0.9 else 'NOT met'}); a plain "
        f"re-render of the history would have reused {percent(rerender, prompt)}; of what the cache "
        f"held after each previous step, {cached} of {carried} tokens = {percent(cached, carried)} were kept",
        f"time to first token, steps 2-{len(steps)}: warm median {statistics.median(warm):.2f} s "
        f"(total {sum(warm):.1f} s), cold median {statistics.median(cold):.2f} s "
        f"(total {sum(cold):.1f} s); cold/warm of the totals {sum(cold) / sum(warm):.1f}x",
    ]


def report(args, spec, steps: list[Step], log: list[str], conditions: Conditions) -> None:
    heading("the session")
    print("\n".join(log))
    heading(f"KV-cache reuse over a {len(steps)}-step agent session")
    print(f"model {spec.name}, context {args.ctx or spec.context_size}, max_tokens {args.max_tokens}, "
          f"grammar {'off' if args.no_grammar else 'lazy'}, temperature {spec.sampling.temperature}, "
          f"seed {args.seed}")
    print("new = prompt - cached (what was prefilled); reuse = cached / prompt; kept = cached / what "
          "the cache held after the previous step (its prompt and output);\n"
          "re-render = share of the prompt a plain re-render of the history would find in the cache; "
          "warm TTFT = prefill + first sampled token;\n"
          "step->tok = from the loop's StepStarted to the first token (adds prompt rendering and "
          "tokenizing);\n"
          "cold TTFT = the same prompt prefilled into an empty KV cache (second instance) + one token")
    print()
    print(table(["step", "turn", "action", "prompt", "cached", "new", "reuse", "kept", "re-render",
                 "prefill s", "1st tok ms", "warm TTFT", "step->tok", "cold TTFT", "cold/warm", "generated"],
                step_rows(steps)))
    print()
    print("\n".join(summary(steps)))
    print("\n".join(conditions.report()))


def main() -> int:
    args = parse_args(__doc__.splitlines()[0], _options)
    conditions = Conditions(args.threads)
    spec, backend = load_model(args)
    _, cold = load_model(args)
    backend.llm.set_seed(args.seed)
    # Without src/: with it, the 1.5B model keeps asking for src/calc.py and loops.
    root = make_demo_repo("bench-cache", skip=("src/",))
    recorder = SessionRecorder(make_agent(backend, root, args), TokenClock(backend.llm),
                               cold.llm, spec.sampling, args.steps)
    if args.map:
        from gemma_code.agent.config import Settings

        recorder.context = Settings()
    steps = recorder.run()
    cold.close()
    backend.close()
    if len(steps) < 2:
        print(f"only {len(steps)} model step(s) ran; nothing to compare", file=sys.stderr)
        return 0
    report(args, spec, steps, recorder.log, conditions)
    return 0


if __name__ == "__main__":
    sys.exit(main())
