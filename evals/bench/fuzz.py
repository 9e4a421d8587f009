"""Fuzzing the readers of model output and the shell safety rules with generated inputs.

Each target is a property checked on inputs that `hypothesis` generates: the streaming
tool-call parser (any split into chunks reads the same as the whole), the call readers of
each syntax, the chat templates the project ships, the JSON-schema-to-GBNF builder (its
grammars compile in llama.cpp) and the shell-command checker. The strategies and checks are
in `fuzz_outputs` and `fuzz_rules`, so that tests/test_fuzz.py runs the same properties with
few inputs; this script runs them with many and counts the inputs that break one:
crashes (an exception the code does not define) and violations (a property that does not
hold). Both should be 0.

    .venv/bin/python -m evals.bench.fuzz [--examples 10000] [--only NAME]
"""

from __future__ import annotations

import argparse
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from evals.bench import heading, table
from evals.bench import fuzz_outputs as outputs
from evals.bench import fuzz_rules as rules

# Running the targets ----------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A property: the check, called with each generated input's items."""

    name: str
    inputs: st.SearchStrategy[tuple]
    check: Callable[..., None]


TARGETS = (
    Target("stream split", outputs.split_outputs(), outputs.check_stream_split),
    Target("stream marked calls", outputs.marked_conversations(),
           outputs.check_stream_reads_marked_calls),
    Target("call readers", outputs.reader_inputs, outputs.check_readers),
    Target("native round trip", st.tuples(outputs.names, outputs.native_arguments),
           outputs.check_native_round_trip),
    Target("json round trip", st.tuples(outputs.names, outputs.arguments),
           outputs.check_json_round_trip),
    Target("chat templates", outputs.conversations(), outputs.check_template_renders),
    Target("schema grammars", rules.grammar_inputs, rules.check_grammar),
    Target("shell syntax", st.tuples(rules.commands), rules.check_shell_syntax),
    Target("command rules", st.tuples(rules.commands, st.booleans()), rules.check_command_rules),
)


@dataclass
class Outcome:
    """What checking one target found."""

    tried: int = 0
    crashes: int = 0  # exceptions the code does not define
    violations: int = 0  # properties that did not hold
    first: str = ""
    seconds: float = 0.0


def run_target(target: Target, examples: int, seed: int) -> Outcome:
    """Checks `target` on `examples` generated inputs, counting (not stopping at) failures."""
    outcome = Outcome()

    @hypothesis_seed(seed)
    @settings(max_examples=examples, phases=[Phase.generate], database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(target.inputs)
    def probe(value: tuple) -> None:
        outcome.tried += 1
        try:
            target.check(*value)
        except AssertionError:
            outcome.violations += 1
            outcome.first = outcome.first or _shown(value)
        except Exception:  # every failure counts; the first is shown
            outcome.crashes += 1
            outcome.first = outcome.first or _shown(value)

    started = time.perf_counter()
    probe()
    outcome.seconds = time.perf_counter() - started
    return outcome


def _shown(value: tuple) -> str:
    """The input (its start: loops make long ones) and where the check failed."""
    return f"{value!r:.2000}\n{traceback.format_exc(limit=-3)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=10_000,
                        help="generated inputs per target (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="generation seed (default: 0)")
    parser.add_argument("--only", action="append", default=None,
                        help="run only this target (repeatable): " + ", ".join(t.name for t in TARGETS))
    args = parser.parse_args()
    chosen = [t for t in TARGETS if args.only is None or t.name in args.only]
    heading(f"fuzzing, {args.examples} inputs per target, seed {args.seed}")
    rows, failed = [], []
    for target in chosen:
        outcome = run_target(target, args.examples, args.seed)
        rows.append((target.name, outcome.tried, outcome.crashes, outcome.violations,
                     outcome.seconds))
        if outcome.first:
            failed.append((target.name, outcome.first))
        print(f"{target.name}: {outcome.tried} inputs, {outcome.crashes} crashes, "
              f"{outcome.violations} violations, {outcome.seconds:.1f} s", flush=True)
    print()
    print(table(["target", "inputs", "crashes", "violations", "seconds"], rows))
    for name, first in failed:
        heading(f"first failure: {name}")
        print(first)


if __name__ == "__main__":
    main()
