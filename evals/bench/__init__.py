"""What the benchmark scripts share: options, model loading, a token clock, a demo repo, tables.

The scripts are `python -m evals.bench.toolcalls`, `.cache`, `.overhead`, `.mlx`, `.screenshot_fix`
and `.checkpoints`;
see `evals/README.md`. Nothing here asserts on timings.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evals.harness.workspace import commit_all

OFFLINE_MODEL = "qwen2.5-coder-1.5b"


def parse_args(description: str, extra=None) -> argparse.Namespace:
    """The options every script takes; `extra(parser)` adds a script's own."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--model", default=OFFLINE_MODEL, help="registry name (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=None,
                        help="llama.cpp threads, decode and prefill (default: one per physical core)")
    parser.add_argument("--ctx", type=int, default=None,
                        help="context size (default: the model's registry value)")
    parser.add_argument("--seed", type=int, default=1234, help="sampling seed (default: 1234)")
    if extra is not None:
        extra(parser)
    args = parser.parse_args()
    args.threads_reason = "--threads"
    if args.threads is None:
        from gemma_code.backends.threads import default_threads

        choice = default_threads()
        args.threads, args.threads_reason = choice.count, choice.reason
    return args


def load_model(args: argparse.Namespace, temperature: float | None = None):
    """(spec, backend) for `args.model`, at the registry sampling or at `temperature`."""
    from gemma_code.backends.llama_cpp import LlamaCppBackend
    from gemma_code.backends.models.registry import ensure_local, get_spec

    spec = get_spec(args.model)
    return spec, LlamaCppBackend(
        ensure_local(spec), context_size=args.ctx or spec.context_size,
        sampling=sampling_at(spec, temperature), chat_format=spec.chat_format,
        n_threads=args.threads,
    )


def sampling_at(spec, temperature: float | None):
    """The registry sampling, with the temperature replaced when one is given.

    `LlamaCppBackend` samples with the `Sampling` it was built with; it does not read
    `GenerationOptions.temperature`, so a temperature is set here.
    """
    if temperature is None:
        return spec.sampling
    return spec.sampling.model_copy(update={"temperature": temperature})


def interrupt_on_sigterm() -> None:
    """Make SIGTERM raise KeyboardInterrupt, so a stopped run can still print what it has."""
    import signal

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)


# Wall-clock conditions ---------------------------------------------------------------


@dataclass
class Conditions:
    """Load averages and this process's CPU time, so a reader can judge contention."""

    threads: int
    load_start: tuple[float, float, float] = field(default_factory=os.getloadavg)
    wall_start: float = field(default_factory=time.perf_counter)
    cpu_start: float = field(default_factory=time.process_time)

    def report(self) -> list[str]:
        wall = time.perf_counter() - self.wall_start
        cpu = time.process_time() - self.cpu_start
        return [
            f"machine: {platform.machine()}, {os.cpu_count()} CPUs, llama.cpp threads {self.threads}",
            f"load average (1/5/15 min): start {_loads(self.load_start)}, end {_loads(os.getloadavg())}",
            f"this process: {wall:.0f} s wall, {cpu:.0f} s CPU "
            f"(averaged {cpu / wall:.2f} busy cores of the {self.threads} asked for)",
        ]


def _loads(load: Sequence[float]) -> str:
    return " ".join(f"{x:.2f}" for x in load)


# Timing what llama.cpp yields ----------------------------------------------------------


@dataclass
class GenerateCall:
    """One `Llama.generate` call: when it started, its prompt, and each token with its time."""

    started: float
    prompt: list[int]
    tokens: list[int] = field(default_factory=list)
    times: list[float] = field(default_factory=list)

    @property
    def first_token_seconds(self) -> float:
        return self.times[0] - self.started if self.times else float("nan")


class TokenClock:
    """Wraps `llm.generate` on one `Llama` instance to time every token drawn from it.

    Every backend draws its tokens through `generate`, so the time between two tokens
    includes whatever the backend does with a token before it asks for the next one.
    """

    def __init__(self, llm) -> None:
        self.calls: list[GenerateCall] = []
        self._generate = llm.generate
        llm.generate = self._timed

    def _timed(self, tokens: Sequence[int], *args: Any, **kwargs: Any) -> Iterator[int]:
        call = GenerateCall(time.perf_counter(), list(tokens))
        self.calls.append(call)
        for token in self._generate(tokens, *args, **kwargs):
            call.times.append(time.perf_counter())
            call.tokens.append(token)
            yield token

    def take(self) -> list[GenerateCall]:
        """The calls since the last `take`."""
        calls, self.calls = self.calls, []
        return calls


def generated_text(llm, calls: Sequence[GenerateCall]) -> str:
    """What the model generated over `calls`, special tokens spelled out."""
    tokens = [t for call in calls for t in call.tokens]
    return llm.detokenize(tokens, special=True).decode("utf-8", "replace")


def first_to_last_rate(times: Sequence[float]) -> float:
    """Tokens per second between the first and the last token (the first is not counted)."""
    if len(times) < 2 or times[-1] <= times[0]:
        return float("nan")
    return (len(times) - 1) / (times[-1] - times[0])


# A small repository to work in ---------------------------------------------------------

DEMO_FILES = {
    "setup.py": 'from setuptools import setup\n\nsetup(name="demo", version="0.1.0", py_modules=["calc", "utils", "cli"])\n',
    "README.md": "# demo\n\nA tiny calculator. Run `python cli.py 2 3` and recieve the sum.\n",
    "calc.py": (
        '"""Arithmetic helpers."""\n\n\ndef add(a, b):\n    """The sum of a and b."""\n'
        "    return a - b\n\n\ndef sub(a, b):\n    return a - b\n"
    ),
    "test_calc.py": (
        "from calc import add, sub\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\n"
        "def test_sub():\n    assert sub(5, 3) == 2\n\n\n"
        'if __name__ == "__main__":\n    test_add()\n    test_sub()\n    print("all tests passed")\n'
    ),
    "utils.py": (
        "import os\n\nDEBUG = os.environ.get(\"DEBUG\") == \"1\"\n\n\ndef foo(items):\n"
        "    # TODO: handle None\n    return [x for x in items if x]\n\n\n"
        "def greet(name):\n    return f\"Hello, {name}!\"\n"
    ),
    "cli.py": (
        "import argparse\n\nfrom calc import add\n\nPORT = 8000\n\n\ndef parse_args(argv=None):\n"
        "    parser = argparse.ArgumentParser()\n    parser.add_argument(\"a\", type=int)\n"
        "    parser.add_argument(\"b\", type=int)\n    return parser.parse_args(argv)\n\n\n"
        "def main():\n    args = parse_args()\n    print(add(args.a, args.b))\n\n\n"
        'if __name__ == "__main__":\n    main()\n'
    ),
    "src/app/__init__.py": "",
    "src/app/models.py": "from dataclasses import dataclass\n\n\n@dataclass\nclass User:\n    name: str\n    email: str\n",
    "docs/index.md": "# Docs\n\nSee README.md.\n",
    ".gitignore": "__pycache__/\n",
}


def make_demo_repo(name: str, skip: tuple[str, ...] = ()) -> Path:
    """A fresh git repository with a few Python files (calc.add has a bug), committed once.

    Files whose path starts with one of `skip` are left out. Its path is the same on every run (it appears in the system prompt, so a random
    temporary name would change the prompt tokens and the model's answers from run to run).
    """
    root = Path(tempfile.gettempdir()) / f"gemma-code-{name}" / "demo"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    for rel, text in DEMO_FILES.items():
        if rel.startswith(skip):
            continue
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    commit_all(root, "initial commit")
    return root.resolve()


# Output ------------------------------------------------------------------------------


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table; floats get two decimals, the first column is left-aligned."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h)
              for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.ljust(w) if i == 0 else v.rjust(w)
                         for i, (v, w) in enumerate(zip(values, widths)))

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, cells)])


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "-" if value != value else f"{value:.2f}"  # NaN prints as "-"
    return str(value)


def percent(part: float, whole: float) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "-"


def heading(text: str) -> None:
    print(f"\n== {text} " + "=" * max(0, 76 - len(text)))
