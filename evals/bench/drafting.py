"""Decode speed with prompt-lookup drafting off and on, through gemma-code's llama.cpp backend.

Three cases, each one user message at temperature 0 (the KV cache and history emptied before
every run, so each run prefills the same prompt):

  rewrite  a generated 150-line Python file, and a request to change one line and answer with
           the whole file in one fenced block (no tools: the whole-file edit format)
  edit     the same file and a request for that change through `edit_file`, with every
           default tool offered and the tool-call grammar on, as the agent runs
  prose    an explanation with nothing to copy from the context

For each case and drafting mode (`off`, `auto`, `lookup`; the modes alternate within each
repeat): decode tokens/s from the backend's `Usage` (median of the repeats), tokens drafted and
accepted, the speed-up over `off`, and whether the output is the one `off` produced.

    .venv/bin/python -m evals.bench.drafting [--model qwen2.5-coder-1.5b] [--threads 2]
"""

from __future__ import annotations

import statistics
import sys
from dataclasses import dataclass

from evals.bench import Conditions, heading, load_model, parse_args, percent, table
from gemma_code.agent.events import TextDelta, ToolCallParsed, Usage
from gemma_code.agent.messages import UserMessage
from gemma_code.agent.protocols import GenerationOptions

MODES = ("off", "auto", "lookup")
CASES = ("rewrite", "edit", "prose")
PROSE = ("Explain in about 300 words how a hash table handles collisions, and when you would "
         "choose open addressing over chaining. Plain prose, no code.")


@dataclass
class Run:
    case: str
    mode: str
    usage: Usage
    output: str


def _options(args) -> None:
    args.add_argument("--lines", type=int, default=150, help="lines in the file (default 150)")
    args.add_argument("--max-tokens", type=int, default=2048,
                      help="per step (default 2048: room for the whole rewritten file)")
    args.add_argument("--repeats", type=int, default=2, help="runs of each mode (default 2)")
    args.add_argument("--cases", default=",".join(CASES), help="comma-separated (default: all)")
    args.add_argument("--modes", default=",".join(MODES), help="comma-separated (default: all)")


def python_file(lines: int) -> tuple[str, str, str]:
    """(a module of about `lines` lines, a line in its middle, that line changed)."""
    out = ['"""Inventory helpers: stock levels, prices and reorder rules."""', "",
           "from dataclasses import dataclass", "", ""]
    i = 0
    while len(out) < lines:
        out += [
            "@dataclass", f"class Item{i}:", f'    """Stock record number {i}."""', "",
            "    name: str", f"    price: float = {i + 1}.5", f"    stock: int = {10 * i + 3}", "",
            "    def value(self) -> float:", "        return self.price * self.stock", "",
            f"    def needs_reorder(self, threshold: int = {i + 5}) -> bool:",
            "        return self.stock < threshold", "", "",
        ]
        i += 1
    out = out[:lines]
    target = next(n for n in range(len(out) // 2, len(out)) if "stock: int" in out[n])
    changed = out[target].rsplit("=", 1)[0] + "= 0"
    return "\n".join(out) + "\n", out[target], changed


def case_request(case: str, lines: int, specs) -> tuple[list, tuple, str]:
    """(messages, tools, what the model should do) for one case."""
    source, line, changed = python_file(lines)
    shown = f"This is inventory.py:\n\n```python\n{source}```\n\n"
    change = f"change the line `{line.strip()}` to `{changed.strip()}`"
    if case == "rewrite":
        text = shown + f"In inventory.py, {change}. Answer with the whole updated file in one " \
                       "```python block and nothing else."
        return [UserMessage.of(text)], (), "rewrite"
    if case == "edit":
        text = shown + f"Use edit_file to {change} in inventory.py."
        return [UserMessage.of(text)], tuple(specs), "edit_file call"
    return [UserMessage.of(PROSE)], (), "prose"


def one_run(backend, case: str, mode: str, request, max_tokens: int) -> Run:
    messages, tools, _ = request
    backend.draft = mode
    backend.llm.reset()
    backend.history.last = None
    events = list(backend.stream(messages, tools, GenerationOptions(max_tokens=max_tokens,
                                                                    temperature=0.0)))
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    calls = [f"{e.call.name}({e.call.arguments})" for e in events if isinstance(e, ToolCallParsed)]
    usage = events[-1]
    assert isinstance(usage, Usage)
    return Run(case, mode, usage, text + "".join(calls))


def summary(runs: list[Run], case: str, modes) -> list[list]:
    base = [r for r in runs if r.case == case and r.mode == "off"]
    base_rate = statistics.median(r.usage.decode_tokens_per_second for r in base) if base else 0
    rows = []
    for mode in modes:
        mine = [r for r in runs if r.case == case and r.mode == mode]
        if not mine:
            continue
        rate = statistics.median(r.usage.decode_tokens_per_second for r in mine)
        drafted = sum(r.usage.drafted_tokens for r in mine)
        accepted = sum(r.usage.accepted_tokens for r in mine)
        same = all(r.output == base[0].output for r in mine) if base else "-"
        rows.append([f"{case} / {mode}", mine[0].usage.completion_tokens, rate, drafted, accepted,
                     percent(accepted, drafted), f"{rate / base_rate:.2f}x" if base_rate else "-",
                     "yes" if same is True else ("no" if same is False else same)])
    return rows


def main() -> int:
    args = parse_args(__doc__.splitlines()[0], _options)
    conditions = Conditions(args.threads)
    spec, backend = load_model(args, temperature=0.0)
    from gemma_code.tools import default_tools
    from gemma_code.tools.base import tool_spec

    specs = [tool_spec(t) for t in default_tools()]
    cases, modes = args.cases.split(","), args.modes.split(",")
    runs: list[Run] = []
    try:
        for case in cases:
            request = case_request(case, args.lines, specs)
            for repeat in range(args.repeats):
                for mode in modes:
                    print(f"{case} {mode} run {repeat + 1}...", file=sys.stderr, flush=True)
                    runs.append(one_run(backend, case, mode, request, args.max_tokens))
    except KeyboardInterrupt:
        print("interrupted: the figures so far", file=sys.stderr)
    finally:
        backend.close()
    heading(f"prompt-lookup drafting, {spec.name}, temperature 0")
    headers = ["case / mode", "tokens", "decode tok/s", "drafted", "accepted", "accept", "vs off",
               "same as off"]
    rows = [row for case in cases for row in summary(runs, case, modes)
            if any(r.case == case for r in runs)]
    print(table(headers, rows))
    print(f"\n{args.lines}-line file, max {args.max_tokens} tokens a step, {args.repeats} "
          "repeat(s); decode tok/s is the median of the backend's Usage figures")
    print("\n".join(conditions.report()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
