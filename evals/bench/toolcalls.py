"""Tool-call validity of one model step, free vs grammar-constrained.

Each prompt of `evals/bench/prompts.json` starts a fresh conversation (the agent's system prompt on
a small demo repository, then the user request) with the real tool specs, and the model
generates ONE step in each mode:

  free      constrain_tool_calls=False, tool_choice="auto"
  lazy      constrain_tool_calls=True,  tool_choice="auto"      (grammar once a call opens)
  required  constrain_tool_calls=True,  tool_choice="required"  (grammar from the first token)

A response is a valid call when it holds a `ToolCallParsed` with no parse error, the name of
an existing tool, and arguments that validate against that tool's pydantic `Args`.

    .venv/bin/python -m evals.bench.toolcalls [--model qwen2.5-coder-1.5b] [--threads 2]
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path


from evals.bench import (
    Conditions, TokenClock, generated_text, heading, interrupt_on_sigterm,
    load_model, make_demo_repo, parse_args, percent, sampling_at, table,
)
from gemma_code.agent.events import Usage
from gemma_code.agent.messages import SystemMessage, ToolCall, UserMessage
from gemma_code.agent.prompts import system_prompt
from gemma_code.backends.prompt_history import common_prefix
from gemma_code.agent.protocols import GenerationOptions
from gemma_code.tools import default_tools
from gemma_code.tools.base import tool_spec
from evals.harness.toolsuite import check_call, one_step

PROMPTS_FILE = Path(__file__).with_name("prompts.json")
MODES = {
    "free": {"constrain_tool_calls": False, "tool_choice": "auto"},
    "lazy": {"constrain_tool_calls": True, "tool_choice": "auto"},
    "required": {"constrain_tool_calls": True, "tool_choice": "required"},
}


@dataclass
class Suite:
    """The prompts and what every conversation shares."""

    prompts: list[dict]
    tools: dict  # name -> tool
    specs: list
    system: SystemMessage
    max_tokens: int


@dataclass
class Outcome:
    prompt: str
    expected: str
    mode: str
    temperature: float
    call: ToolCall | None
    problem: str | None  # why the call is not valid; None when it is
    text: str  # what the model wrote besides a call
    seconds: float
    usage: Usage
    raw: str  # everything the model generated, markup included
    grammar_switches: int  # times the backend restarted sampling under the grammar (lazy mode)

    @property
    def valid(self) -> bool:
        return self.call is not None and self.problem is None

    @property
    def as_expected(self) -> bool:
        return self.valid and self.call.name == self.expected


def _options(args) -> None:
    args.add_argument("--temperatures", default=None,
                      help="comma-separated, e.g. 0.2,0 (default: the model's registry temperature)")
    args.add_argument("--modes", default=",".join(MODES), help="comma-separated subset of modes")
    args.add_argument("--limit", type=int, default=None, help="only the first N prompts")
    args.add_argument("--max-tokens", type=int, default=256)


def load_prompts(limit: int | None) -> list[dict]:
    prompts = json.loads(PROMPTS_FILE.read_text())["prompts"]
    return prompts[:limit] if limit else prompts


def call_format(raw: str) -> str:
    """How the model wrote its answer: tagged (<tool_call>), fenced (```), bare JSON, or prose."""
    if "<tool_call>" in raw:
        return "tagged"
    if "```" in raw:
        return "fenced"
    return "bare" if raw.lstrip().startswith(("{", "[")) else "prose"


def run_mode(backend, clock: TokenClock, suite: Suite, mode: str, temperature: float,
             seed: int, outcomes: list[Outcome]) -> None:
    """Every prompt once in `mode`, appended to `outcomes`; progress goes to stderr."""
    options = GenerationOptions(max_tokens=suite.max_tokens, **MODES[mode])
    for i, item in enumerate(suite.prompts):
        backend.llm.set_seed(seed + i)  # the same draw for a prompt in every mode
        messages = [suite.system, UserMessage.of(item["prompt"])]
        clock.take()
        call, text, usage, seconds = one_step(backend, messages, suite.specs, options)
        calls = clock.take()
        problem = "no call" if call is None else check_call(call, suite.tools)[1] or None
        outcomes.append(Outcome(item["prompt"], item["expected"], mode, temperature, call,
                                problem, text, seconds, usage, generated_text(backend.llm, calls),
                                len(calls) - 1))
        got = call.name if call else "-"
        print(f"  [{mode} T={temperature:g}] {i + 1}/{len(suite.prompts)} "
              f"{item['expected']:<10} got {got:<10} {'ok' if problem is None else problem[:60]} "
              f"{seconds:.1f}s", file=sys.stderr, flush=True)


def shared_prefix(backend, suite: Suite) -> int:
    """Tokens that every conversation starts with (system prompt and tool specs)."""
    a, b = (backend.tokenize(backend.template.render([suite.system, UserMessage.of(text)], suite.specs))
            for text in ("hello", "list the files"))
    return common_prefix(a, b)


def warm_prefix(backend, suite: Suite) -> float:
    """Prefill the shared prefix once (a one-token step) so every mode starts equally warm."""
    messages = [suite.system, UserMessage.of("hello")]
    options = GenerationOptions(max_tokens=1, constrain_tool_calls=False)
    started = time.perf_counter()
    list(backend.stream(messages, suite.specs, options))
    return time.perf_counter() - started


def summary_rows(outcomes: list[Outcome]) -> list[list]:
    rows = []
    for (temp, mode) in dict.fromkeys((o.temperature, o.mode) for o in outcomes):
        group = [o for o in outcomes if (o.temperature, o.mode) == (temp, mode)]
        n = len(group)
        tokens = sum(o.usage.completion_tokens for o in group)
        decode = sum(o.usage.decode_seconds for o in group)
        rows.append([
            mode, f"{temp:g}", n,
            percent(sum(o.valid for o in group), n),
            percent(sum(o.as_expected for o in group), n),
            percent(sum(o.call is None for o in group), n),
            percent(sum(o.call is not None and not o.valid for o in group), n),
            sum(o.seconds for o in group) / n,
            tokens / n,
            tokens / decode if decode else float("nan"),
            percent(sum(o.usage.cached_tokens for o in group), sum(o.usage.prompt_tokens for o in group)),
            "/".join(str(sum(call_format(o.raw) == f for o in group))
                     for f in ("tagged", "fenced", "bare", "prose")),
            sum(o.grammar_switches > 0 for o in group) if mode == "lazy" else "-",
        ])
    return rows


def per_tool_rows(outcomes: list[Outcome]) -> tuple[list[str], list[list]]:
    columns = list(dict.fromkeys(f"{o.mode} T={o.temperature:g}" for o in outcomes))
    rows = []
    for tool in dict.fromkeys(o.expected for o in outcomes):
        row = [tool]
        for col in columns:
            group = [o for o in outcomes if o.expected == tool and f"{o.mode} T={o.temperature:g}" == col]
            row.append(f"{sum(o.as_expected for o in group)}/{len(group)}")
        rows.append(row)
    return ["expected tool", *columns], rows


def print_misses(outcomes: list[Outcome]) -> None:
    """Every response that is not a valid call of the expected tool, one line each."""
    misses = [o for o in outcomes if not o.as_expected]
    heading(f"responses that missed ({len(misses)} of {len(outcomes)})")
    for o in misses:
        if o.call is None:
            got = f"no call, wrote {' '.join(o.text.split())[:70]!r}"
        else:
            got = f"{o.call.name}({json.dumps(o.call.arguments)[:70]})"
        why = "" if o.problem in (None, "no call") else f"  <- {o.problem[:90]}"
        print(f"  {o.mode:<8} T={o.temperature:<4g} {o.prompt[:44]!r:<47} wanted {o.expected:<10} got {got}{why}")


def main() -> int:
    args = parse_args(__doc__.splitlines()[0], _options)
    conditions = Conditions(args.threads)
    spec, backend = load_model(args)
    root = make_demo_repo("bench-toolcalls")
    tools = default_tools()
    suite = Suite(
        prompts=load_prompts(args.limit), tools={t.name: t for t in tools},
        specs=[tool_spec(t) for t in tools], system=SystemMessage(content=system_prompt(root, [t.name for t in tools])),
        max_tokens=args.max_tokens,
    )
    prefix = shared_prefix(backend, suite)
    warm = warm_prefix(backend, suite)
    clock = TokenClock(backend.llm)
    temperatures = ([float(t) for t in args.temperatures.split(",")] if args.temperatures
                    else [spec.sampling.temperature])
    outcomes: list[Outcome] = []
    interrupt_on_sigterm()
    try:
        for temperature in temperatures:
            backend.sampling = sampling_at(spec, temperature)
            for mode in args.modes.split(","):
                run_mode(backend, clock, suite, mode, temperature, args.seed, outcomes)
    except KeyboardInterrupt:
        print(f"\ninterrupted: the figures below cover the {len(outcomes)} steps that ran",
              file=sys.stderr)
    backend.close()
    if outcomes:
        report(args, spec, suite, prefix, warm, outcomes, conditions)
    return 0 if len(outcomes) == len(temperatures) * len(args.modes.split(",")) * len(suite.prompts) else 1


def report(args, spec, suite: Suite, prefix, warm, outcomes, conditions) -> None:
    print_misses(outcomes)
    heading("tool-call validity, one step per prompt")
    s = spec.sampling
    print(f"model {spec.name}; {len(suite.prompts)} prompts over {len(suite.tools)} tools; "
          f"max_tokens {args.max_tokens}; sampling top_k {s.top_k}, top_p {s.top_p}, "
          f"min_p {s.min_p}, repeat_penalty {s.repeat_penalty}, seed {args.seed}+prompt index")
    print(f"one backend instance for every prompt: the shared system prompt + tool specs "
          f"({prefix} tokens) was prefilled once ({warm:.1f} s) and then reused through "
          "llama.cpp's prefix matching, so each step prefilled only the user request.")
    print("valid = a call with no parse error, an existing tool and arguments that pass its "
          "pydantic Args; expected = valid AND the expected tool; s/prompt = wall time of the step;\n"
          "tag/fence/bare/prose = responses written with <tool_call> tags / in a ``` fence / as bare "
          "JSON / as prose; lazy grammar on = lazy-mode steps where the grammar took over")
    print()
    print(table(["mode", "T", "n", "valid call", "expected tool", "no call", "invalid call",
                 "s/prompt", "tokens/step", "decode tok/s", "prompt cached", "tag/fence/bare/prose",
                 "lazy grammar on"], summary_rows(outcomes)))
    print()
    headers, rows = per_tool_rows(outcomes)
    print(table(headers, rows))
    print()
    print("\n".join(conditions.report()))


if __name__ == "__main__":
    sys.exit(main())
