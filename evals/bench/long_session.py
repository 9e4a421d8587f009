"""A long session's memory and its survival of kills: 100 scripted steps of real tool output
(reads, greps, listings of a generated project) at a small context, so that old output is
masked and the conversation compacted on the way; peak and current RSS printed every 10
steps. Then a process that keeps saving a session is SIGKILLed at random moments, and the
session must load after each kill.

    .venv/bin/python -m evals.bench.long_session [--steps 100] [--context 8192] [--kills 20]

With `--model qwen2.5-coder-1.5b --steps 30 --context 4096` the steps are a real model's
instead (a question about one module a turn), at a context small enough to compact.
"""

from __future__ import annotations

import argparse
import random
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gemma_code.agent.approval import DenyApprover
from gemma_code.agent.config import Settings
from gemma_code.agent.events import Compacted, StepStarted, Usage
from gemma_code.agent.messages import AssistantMessage, UserMessage
from gemma_code.agent.session import Session
from gemma_code.agent.sessions import SessionStore
from gemma_code.backends.scripted import ScriptedBackend

FILES, LINES = 12, 120


def realistic_repo(root: Path) -> list[str]:
    """Python modules of about LINES lines each, like a small project's."""
    names = []
    for n in range(FILES):
        body = [f'"""Module {n}: helpers for part {n} of the project."""', ""]
        for f in range((LINES - 2) // 6):
            body += [f"def handle_{n}_{f}(value, limit={f + 1}):",
                     f'    """Handle {f}: clamp value to the limit and scale it."""',
                     "    if value > limit:", "        value = limit",
                     f"    return value * {n + f + 2}  # scaled for part {n}", ""]
        name = f"module_{n:02d}.py"
        (root / name).write_text("\n".join(body[:LINES]) + "\n")
        names.append(name)
    return names


def tool_turns(names: list[str], steps: int) -> list[dict]:
    """`steps` distinct tool calls (none repeats): reads, greps, listings."""
    turns = []
    for i in range(steps):
        name = names[i % len(names)]
        if i % 5 == 3:
            call = {"name": "grep", "arguments": {"pattern": f"part {i % FILES}|value \\* {i}"}}
        elif i % 5 == 4:
            call = {"name": "list_files", "arguments": {"pattern": f"*{i}*"}}
        else:
            call = {"name": "read_file", "arguments": {"path": name, "offset": 1 + i // len(names)}}
        turns.append({"text": f"Step {i}: looking at {name}.", "tool_calls": [call]})
    return turns


def rss_mib() -> tuple[float, float]:
    """(peak, current) resident memory of this process in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return peak, pages * resource.getpagesize() / 2**20


def long_session(root: Path, steps: int, context: int) -> list[tuple[int, float, float, int]]:
    """Run the session; returns (step, peak MiB, current MiB, prompt tokens) every 10 steps."""
    names = realistic_repo(root)
    backend = ScriptedBackend.from_turns([*tool_turns(names, steps + 20), {"text": "Done."}])
    backend.context_size = context
    settings = Settings(checkpoints=False, verify="off", sandbox="off", max_steps=steps,
                        retry_temperature=0)
    store = SessionStore(root.parent / "sessions")
    session = Session(settings, backend, root, DenyApprover(), store.create(root, "scripted"))
    rows, prompt, shrunk = [], 0, {"masked": 0, "compacted": 0}
    for event in session.run(UserMessage.of("go through every module")):
        if isinstance(event, Usage):
            prompt = event.prompt_tokens
            backend.seen.clear()  # the fake model's own record is not the agent's memory
        elif isinstance(event, Compacted):
            shrunk[event.kind] += 1
        elif isinstance(event, StepStarted) and event.step % 10 == 0:
            rows.append((event.step, *rss_mib(), prompt))
    print(f"rewrites: {shrunk['masked']} masked, {shrunk['compacted']} compacted")
    return rows


def real_model_session(root: Path, model: str, steps: int, context: int,
                       threads: int | None) -> list[tuple[int, float, float, int]]:
    """The same project with a real model at `context` tokens: one short question about a
    module a turn (read it, answer), turn after turn, until `steps` steps have run; the same
    rows as `long_session`. Every step that ended on a full context is counted."""
    from evals.bench import load_model

    names = realistic_repo(root)
    _, backend = load_model(argparse.Namespace(model=model, ctx=context, threads=threads), 0.0)
    settings = Settings(model=model, checkpoints=False, verify="off", sandbox="off",
                        max_steps=6)
    store = SessionStore(root.parent / "sessions")
    session = Session(settings, backend, root, DenyApprover(), store.create(root, model))
    rows, prompt, done, full, turns = [], 0, 0, 0, 0
    shrunk = {"masked": 0, "compacted": 0}
    try:
        while done < steps:
            n = turns % len(names)
            question = (f"Read {names[n]} with read_file and tell me in one sentence what "
                        f"handle_{n}_{turns % 7} returns.")
            turns += 1
            for event in session.run(UserMessage.of(question)):
                if isinstance(event, Usage):
                    prompt = event.prompt_tokens
                    full += event.finish_reason == "context_full"
                elif isinstance(event, Compacted):
                    shrunk[event.kind] += 1
                elif isinstance(event, StepStarted):
                    done += 1
                    if done % 10 == 0:
                        rows.append((done, *rss_mib(), prompt))
    finally:
        backend.close()
    print(f"{model} at {context} tokens: {done} steps in {turns} turns; rewrites: "
          f"{shrunk['masked']} masked, {shrunk['compacted']} compacted; steps ended on a full "
          f"context: {full}")
    return rows


SAVER = r"""
import sys
from pathlib import Path
from gemma_code.agent.messages import AssistantMessage, UserMessage
from gemma_code.agent.sessions import SessionFile, SessionInfo

path, n = Path(sys.argv[1]), 0
info = SessionInfo.model_validate_json(path.read_text().splitlines()[0])
saved = SessionFile(path, info)
print("ready", flush=True)
while True:
    n += 1
    history = [UserMessage.of("task")] + [AssistantMessage(text=f"{n}:{i} " + "x" * 4000)
                                          for i in range(40)]
    saved.rewrite("compacted", history)
    saved.append([AssistantMessage(text=f"after {n}")])
"""


def kill_while_saving(folder: Path, kills: int, seed: int = 7) -> int:
    """SIGKILL a process that keeps rewriting a saved session; after each kill the session
    loads, holds a whole history, and takes more lines. Returns the kills survived."""
    store = SessionStore(folder / "sessions")
    saved = store.create(Path("/w"), "m")
    saved.append([UserMessage.of("task")])
    rng = random.Random(seed)
    for _ in range(kills):
        proc = subprocess.Popen([sys.executable, "-c", SAVER, str(saved.path)],
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.01, 0.3))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        _, history = store.load(saved.info.id)
        assert isinstance(history[0], UserMessage) and history[0].text == "task"
        assert len(history) in (1, 2, 41, 42), len(history)  # before any rewrite, or a whole one
        saved.append([AssistantMessage(text="resumed")])
        assert store.load(saved.info.id)[1][-1].text == "resumed"
    return kills


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--context", type=int, default=8192)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--model", help="a real model (registry name) instead of the scripted "
                        "one: turns of one question each until --steps steps have run")
    parser.add_argument("--threads", type=int, help="llama.cpp threads (with --model)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "repo"
        root.mkdir()
        if args.model:
            rows = real_model_session(root, args.model, args.steps, args.context, args.threads)
        else:
            rows = long_session(root, args.steps, args.context)
        print(f"{'step':>5} {'peak RSS MiB':>13} {'RSS MiB':>8} {'prompt tokens':>14}")
        for step, peak, now, prompt in rows:
            print(f"{step:>5} {peak:>13.1f} {now:>8.1f} {prompt:>14}")
        survived = kill_while_saving(Path(folder), args.kills)
        print(f"session save killed {survived} times: it loaded every time")
    return 0


if __name__ == "__main__":
    sys.exit(main())
