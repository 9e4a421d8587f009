"""Decode and prefill speed of what users run, against bare llama-cpp-python on the same GGUF.

  run   `gemma-code run --json --max-steps 1 --temperature 0 --max-tokens N PROMPT`, a
        subprocess in a demo repository; its figures come from its own `usage` event.
  tui   `gemma-code` (the TUI) in a private tmux server: the prompt is typed, and the figures
        are read from the status bar once the turn has finished (whole tokens/s).
  bare  llama-cpp-python in this process with its best settings for the machine: n_threads and
        n_threads_batch one per physical core, n_batch 512, flash attention; a prompt of the
        product's length (the chat template around filler and the same request) prefilled
        with `eval`, then N tokens from `generate` with the product's sampler (greedy).

Both are timed as `Usage` times them: prefill is the prompt's evaluation, decode runs from the
end of prefill to the last token. Kinds alternate (the first goes last in the next round);
medians are compared. The product's threads are what its own `gemma-code config` reports.

    .venv/bin/python -m evals.bench.product [--repeats 3] [--tokens 160] [--no-tui] [--checkout DIR]
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from evals.bench import (
    DEMO_FILES, Conditions, heading, interrupt_on_sigterm, make_demo_repo, parse_args, sampling_at,
    table,
)

PROMPT = ("Explain in plain prose, without any code, how a hash table handles collisions, "
          "and compare chaining with open addressing.")
TMUX_SOCKET = f"gemma-code-bench-{os.getpid()}"
STATUS = re.compile(r"prefill (\S+) · decode (\S+) tok/s")


@dataclass
class Figures:
    kind: str  # "bare", "run" or "tui"
    prefill: float  # new prompt tokens / prefill seconds
    decode: float  # completion tokens / decode seconds
    prompt_tokens: int = 0
    completion_tokens: int = 0
    load: float = float("nan")  # the 1-minute load average when the run ended


def _options(parser) -> None:
    parser.add_argument("-n", "--tokens", type=int, default=160, help="tokens per run (default 160)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each kind (default 3)")
    parser.add_argument("--no-tui", dest="tui", action="store_false", help="leave the TUI out")
    parser.add_argument("--checkout", type=Path,
                        help="run gemma-code from another checkout of this repository (a `git "
                             "worktree` of an older commit, say) to compare before and after")


# The product ------------------------------------------------------------------------------


def product_env(scratch: Path, checkout: Path | None) -> dict[str, str]:
    """The environment both product kinds run in: no user config, state in `scratch`."""
    env = dict(os.environ, XDG_CONFIG_HOME=str(scratch / "config"), HF_HUB_OFFLINE="1",
               GEMMA_CODE_SESSIONS_DIR=str(scratch / "sessions"),
               GEMMA_CODE_CHECKPOINTS_DIR=str(scratch / "checkpoints"),
               GEMMA_CODE_IMAGES_DIR=str(scratch / "images"))
    env.pop("GEMMA_CODE_MODEL", None)
    if checkout is not None:  # `gemma_code` from that checkout's folders, ahead of this one's
        package = scratch / "checkout" / "gemma_code"
        package.mkdir(parents=True)
        (package / "__init__.py").write_text("")
        for folder in ("agent", "tools", "backends"):
            (package / folder).symlink_to(checkout.resolve() / folder)
        env["PYTHONPATH"] = str(package.parent)
    return env


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "gemma_code.agent.cli", *args]


def product_threads(env: dict[str, str], repo: Path, model: str) -> str:
    """The `n_threads` line of the product's own `gemma-code config`."""
    shown = subprocess.run(cli("config", "--model", model), cwd=repo, env=env, capture_output=True,
                           text=True, timeout=120)
    line = next((x for x in shown.stdout.splitlines() if x.startswith("n_threads")), "n_threads ?")
    if " = null" in line:  # left to llama-cpp-python
        logical = os.cpu_count() or 1
        line += (f": llama-cpp-python's own default, {max(logical // 2, 1)} decode and "
                 f"{logical} batch threads")
    return line


def flags(model: str, tokens: int) -> list[str]:
    return ["--model", model, "--max-steps", "1", "--temperature", "0", "--max-tokens", str(tokens)]


def run_once(env: dict[str, str], repo: Path, model: str, tokens: int) -> Figures:
    """`gemma-code run --json` on the prompt; its figures from its usage event."""
    done = subprocess.run(cli("run", "--json", *flags(model, tokens), "--approval", "read-only",
                              PROMPT), cwd=repo, env=env, capture_output=True, text=True,
                          timeout=900, stdin=subprocess.DEVNULL)
    for line in done.stdout.splitlines():
        event = json.loads(line)
        if event.get("type") == "usage":
            new = event["prompt_tokens"] - event["cached_tokens"]
            return Figures("run", new / event["prefill_seconds"],
                           event["completion_tokens"] / event["decode_seconds"],
                           event["prompt_tokens"], event["completion_tokens"])
    raise RuntimeError(f"gemma-code run gave no usage event (exit {done.returncode}): "
                       f"{done.stderr.strip()[-500:]}")


def tmux(*args: str, check: bool = True) -> str:
    return subprocess.run(["tmux", "-L", TMUX_SOCKET, *args], capture_output=True, text=True,
                          check=check, timeout=60).stdout


def wait_for(session: str, pattern: re.Pattern, timeout: float = 900) -> re.Match:
    """Poll the pane, once a second (the figures are the app's own: polling does not time them)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = pattern.search(tmux("capture-pane", "-p", "-t", session))
        if found:
            return found
        time.sleep(1)
    raise TimeoutError(f"the TUI did not show {pattern.pattern!r} in {timeout:.0f} s:\n"
                       + tmux("capture-pane", "-p", "-t", session))


def tui_once(env: dict[str, str], repo: Path, model: str, tokens: int) -> Figures:
    """The TUI in tmux: wait for the model, type the prompt, read the status bar's figures."""
    session = f"tui{time.monotonic_ns()}"
    variables = [f"{k}={v}" for k, v in env.items() if k.startswith(("GEMMA_CODE_", "XDG_", "HF_"))
                 or k == "PYTHONPATH"]
    tmux("new-session", "-d", "-s", session, "-x", "250", "-y", "50", "-c", str(repo), "--",
         "env", *variables, *cli(*flags(model, tokens), "--approval", "read-only"))
    try:
        wait_for(session, re.compile(r"model ready:"))
        tmux("send-keys", "-t", session, "-l", PROMPT)
        tmux("send-keys", "-t", session, "Enter")
        found = wait_for(session, STATUS)
        return Figures("tui", float(found.group(1)), float(found.group(2)))
    finally:
        tmux("kill-session", "-t", session, check=False)


# Bare llama-cpp-python ---------------------------------------------------------------------


class Bare:
    """One `Llama` with the machine's best settings, and a prompt of a given length."""

    def __init__(self, spec, path: Path, threads: int) -> None:
        from gemma_code.backends.llama_cpp import new_llama

        self.llm = new_llama(model_path=str(path), n_ctx=spec.context_size, n_batch=512,
                             n_threads=threads, n_threads_batch=threads, flash_attn=True,
                             verbose=False)
        self.sampling = sampling_at(spec, 0.0)

    def prompt(self, length: int) -> list[int]:
        """The chat template around filler text (as a system message) and the request,
        `length` tokens in all."""
        from gemma_code.agent.messages import SystemMessage, UserMessage
        from gemma_code.backends.chat_template import ChatTemplate

        llm, mark = self.llm, "\x00FILLER\x00"
        eos = llm.detokenize([llm.token_eos()], special=True).decode("utf-8", "replace")
        template = ChatTemplate(llm.metadata["tokenizer.chat_template"], bos_token="", eos_token=eos)
        text = template.render([SystemMessage(content=mark), UserMessage.of(PROMPT)], [], True)
        before, after = (self.tokenize(part) for part in text.split(mark))
        filler = self.tokenize("\n".join(DEMO_FILES.values()))
        room = length - len(before) - len(after)
        if room < 0:
            raise ValueError(f"a {length}-token prompt cannot hold the request")
        return before + (filler * (room // len(filler) + 1))[:room] + after

    def tokenize(self, text: str) -> list[int]:
        return self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)

    def once(self, prompt: list[int], tokens: int) -> Figures:
        llm, s = self.llm, self.sampling
        llm.reset()
        started = time.perf_counter()
        llm.eval(prompt)
        prefilled = time.perf_counter()
        n = 0
        for _ in llm.generate(prompt, top_k=s.top_k, top_p=s.top_p, min_p=s.min_p,
                              temp=s.temperature, repeat_penalty=s.repeat_penalty):
            n += 1  # the end-of-text token is not special-cased: N tokens whatever they are
            if n == tokens:
                break
        ended = time.perf_counter()
        return Figures("bare", len(prompt) / (prefilled - started), n / (ended - prefilled),
                       len(prompt), n)


# Running and reporting -----------------------------------------------------------------


def rounds(kinds: dict, repeats: int) -> list[Figures]:
    """`repeats` runs of each kind, the order rotating each round."""
    runs, names = [], list(kinds)
    for i in range(repeats):
        order = names[i % len(names):] + names[:i % len(names)]
        for name in order:
            try:
                figures = kinds[name]()
            except (RuntimeError, TimeoutError, subprocess.SubprocessError) as exc:
                print(f"  round {i + 1} {name:<4} failed: {exc}", file=sys.stderr, flush=True)
                continue
            figures.load = os.getloadavg()[0]
            runs.append(figures)
            print(f"  round {i + 1} {name:<4} prefill {figures.prefill:6.1f} tok/s, decode "
                  f"{figures.decode:5.2f} tok/s ({figures.completion_tokens or '?'} tokens), "
                  f"load {figures.load:.2f}", file=sys.stderr, flush=True)
    return runs


def report(runs: list[Figures], args, prompt_tokens: int, threads: dict[str, str], conditions) -> None:
    def pick(how, kind: str, field: str) -> float:
        values = [getattr(r, field) for r in runs if r.kind == kind]
        return how(values) if values else float("nan")

    heading("decode and prefill: gemma-code as users run it vs bare llama-cpp-python")
    print(f"model {args.model}; prompt {prompt_tokens} tokens (the product's system prompt, tools "
          f"and request; bare: as many tokens); {args.tokens} generated per run, greedy")
    for kind, line in threads.items():
        print(f"threads, {kind}: {line}")
    print()
    print(table(["run", "kind", "prefill tok/s", "decode tok/s", "load"],
                [[f"#{i + 1}", r.kind, r.prefill, r.decode, r.load] for i, r in enumerate(runs)]))
    print()
    rows = []
    for how, name in ((statistics.median, "median"), (max, "best")):
        for kind in ("run", "tui"):
            if any(r.kind == kind for r in runs):
                prefill, bare_prefill = pick(how, kind, "prefill"), pick(how, "bare", "prefill")
                decode, bare_decode = pick(how, kind, "decode"), pick(how, "bare", "decode")
                rows.append([f"{kind} {name}", prefill, bare_prefill, _ratio(prefill, bare_prefill),
                             decode, bare_decode, _ratio(decode, bare_decode)])
    print(table(["product", "prefill", "bare prefill", "ratio", "decode", "bare decode", "ratio"], rows))
    print("(tokens/s; the TUI's status bar shows whole tokens/s, about 2% at 25 tok/s; other "
          "processes only ever slow a run down, so on a busy machine the best runs compare better)")
    print("\n".join(conditions.report()))


def _ratio(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f}%" if whole == whole and whole else "-"


def main() -> int:
    from gemma_code.backends.models.registry import ensure_local, get_spec

    args = parse_args(__doc__.splitlines()[0], _options)
    interrupt_on_sigterm()  # so that a stopped bench still stops its tmux server
    if args.tui and shutil.which("tmux") is None:
        print("tmux is not installed: leaving the TUI out", file=sys.stderr)
        args.tui = False
    spec = get_spec(args.model)
    conditions = Conditions(args.threads)  # --threads, else one per physical core
    scratch = Path(tempfile.mkdtemp(prefix="gemma-code-bench-product-"))
    try:
        env = product_env(scratch, args.checkout)
        repo = make_demo_repo("bench-product")
        threads = {"bare": f"n_threads = n_threads_batch = {args.threads} ({args.threads_reason})",
                   "product": product_threads(env, repo, args.model)}
        print("warm-up run (not counted; it gives the prompt length)...", file=sys.stderr, flush=True)
        prompt_tokens = run_once(env, repo, args.model, args.tokens).prompt_tokens
        bare = Bare(spec, ensure_local(spec), args.threads)
        prompt = bare.prompt(prompt_tokens)
        assert len(prompt) == prompt_tokens
        kinds = {"bare": lambda: bare.once(prompt, args.tokens),
                 "run": lambda: run_once(env, repo, args.model, args.tokens)}
        if args.tui:
            kinds["tui"] = lambda: tui_once(env, repo, args.model, args.tokens)
        runs = rounds(kinds, args.repeats)
        bare.llm.close()
    finally:
        if args.tui:
            tmux("kill-server", check=False)
        shutil.rmtree(scratch, ignore_errors=True)
    report(runs, args, prompt_tokens, threads, conditions)
    return 0


if __name__ == "__main__":
    sys.exit(main())
