"""`python -m evals run | report | setup`."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

from gemma_code.backends.threads import choose_threads

from . import report as reports
from . import results as store
from .suites import SUITES_DIR, RepoTask, SuiteError, is_tool_suite, load_suite, suite_names

CPU_MODEL = "qwen2.5-coder-1.5b"
ACCELERATED_MODEL = "gemma-4-12b"  # a GGUF, so the peers' server runs the same file
AGENTS = ("gemma-code", "aider", "mini-swe-agent")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m evals", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run a suite and write a results file")
    run.add_argument("--suite", required=True, help=f"one of: {', '.join(suite_names())}")
    run.add_argument("--suites-dir", type=Path, default=SUITES_DIR, help=argparse.SUPPRESS)
    run.add_argument("--model", help=f"registry name or path (default: {ACCELERATED_MODEL} where llama.cpp "
                                      f"can use a GPU or Metal and it is downloaded, else {CPU_MODEL})")
    run.add_argument("--agent", choices=AGENTS, default="gemma-code")
    run.add_argument("--backend", default="auto", help="gemma-code's backend (default: %(default)s)")
    run.add_argument("--base-url", dest="base_url", help="gemma-code's OpenAI-compatible server "
                     "(with --backend openai)")
    run.add_argument("--tasks", help="comma-separated task ids (default: all)")
    run.add_argument("--out", type=Path, help="results file (default: results-SUITE-AGENT.json)")
    run.add_argument("--resume", action="store_true",
                     help="keep the tasks the results file already has and run only the others")
    run.add_argument("--tries", type=int, default=2,
                     help="attempts per repository task; a retry is told only that the problem "
                          "is still there (default: %(default)s)")
    run.add_argument("--attempts", type=int, default=1,
                     help="gemma-code's --attempts: independent tries within one attempt, the "
                          "repository's own tests choosing (default: %(default)s)")
    run.add_argument("--timeout", type=float, default=600, help="seconds per attempt (default: %(default)s)")
    run.add_argument("--max-steps", type=int, default=30, help="gemma-code's steps per attempt")
    run.add_argument("--temperature", type=float, default=0.0, help="(default: %(default)s)")
    run.add_argument("--max-tokens", type=int, default=2048,
                     help="tokens a model request may generate, for every agent alike (default: %(default)s, "
                          "gemma-code's own)")
    run.add_argument("--context-size", type=int, default=None, help="peers' server context (default: the model's, as gemma-code uses)")
    run.add_argument("--threads", type=int, default=None,
                     help="llama.cpp threads, decode and prefill, for every agent alike "
                          "(default: one per physical core, gemma-code's default)")

    rep = sub.add_parser("report", help="Markdown tables from results files")
    rep.add_argument("files", nargs="+", type=Path)

    setup = sub.add_parser("setup", help="install the peer agents into their own virtual environments")
    setup.add_argument("agents", nargs="*", metavar="AGENT", help="aider, mini-swe-agent (default: both)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _interrupt_on_termination()
    try:
        if args.command == "report":
            return _report(args.files)
        if args.command == "setup":
            from .peers import setup

            names = args.agents or list(AGENTS[1:])
            unknown = [name for name in names if name not in AGENTS[1:]]
            if unknown:
                raise ValueError(f"no peer agent {', '.join(unknown)}; peers: {', '.join(AGENTS[1:])}")
            for name in names:
                setup(name, log=_say)
            return 0
        return _run(args)
    except (SuiteError, OSError, ValueError) as exc:
        print(f"evals: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("evals: interrupted", file=sys.stderr)
        return 130


def _interrupt_on_termination() -> None:
    """SIGTERM and SIGHUP end a run as Ctrl+C does, so that the agent and the model server it
    runs in their own sessions are stopped too, not left running without it."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, interrupt)


def default_model() -> str:
    """The model a run uses when none is named: Gemma 4 12B on a GPU machine or a Mac where it is
    downloaded, else the bundled CPU model."""
    import llama_cpp

    from gemma_code.backends.models.registry import get_spec, is_present

    if llama_cpp.llama_supports_gpu_offload() and is_present(get_spec(ACCELERATED_MODEL)):
        return ACCELERATED_MODEL
    return CPU_MODEL


def agent_version(agent: str) -> str:
    """What exactly ran: gemma-code's commit (`+changes` when the tree differs from it), or the
    peer's package version."""
    if agent != "gemma-code":
        from .peers import installed_version

        return installed_version(agent) or "not installed"
    root = Path(__file__).resolve().parents[2]
    commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    if not commit:
        return "gemma-code (not a git checkout)"
    dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    return f"gemma-code {commit}{'+changes' if dirty else ''}"


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _report(files: list[Path]) -> int:
    results = []
    for path in files:
        results += store.load(path).results
    sys.stdout.write(reports.report(results))
    return 0


def _run(args: argparse.Namespace) -> int:
    if not args.model:
        args.model = default_model()
        _say(f"model: {args.model} (the default on this machine; --model to choose)")
    only = [t.strip() for t in args.tasks.split(",") if t.strip()] if args.tasks else None
    tasks = load_suite(args.suite, only, args.suites_dir)
    out = args.out or Path(f"results-{args.suite}-{args.agent}.json")
    threads = choose_threads(args.threads)
    args.threads = threads.count  # the agent gets the number, the results file also why
    meta = store.conditions(suite=args.suite, agent=args.agent, model=args.model, threads=str(threads),
                            agent_version=agent_version(args.agent), tries=args.tries,
                            timeout=args.timeout, max_steps=args.max_steps,
                            temperature=args.temperature, max_tokens=args.max_tokens,
                            **_gemma_code_conditions(args))
    if is_tool_suite(args.suite, args.suites_dir):
        if args.agent != "gemma-code":
            raise SuiteError(f"the {args.suite} suite grades gemma-code's own tool calls only")
        results = _run_tools(args, tasks)
    else:
        results = _run_repo(args, tasks, out, meta)
    store.save(out, meta, results)
    _say(f"\nresults: {out}")
    sys.stdout.write(reports.summary(results) + "\n")
    return 0


def _run_tools(args, tasks):
    from gemma_code.agent.config import Settings

    from .toolsuite import run_tool_suite

    settings = Settings(model=args.model, backend=args.backend, temperature=args.temperature,
                        max_tokens=args.max_tokens, n_threads=args.threads, base_url=args.base_url)
    done = []

    def progress(result) -> None:
        done.append(result)
        verdict = "ok" if result.passed else f"miss: {result.problem.splitlines()[0][:160]}"
        _say(f"[{len(done)}/{len(tasks)}] {result.task}: {verdict} ({result.seconds:.1f} s)")

    return run_tool_suite(tasks, settings, notice=_say, on_result=progress)


def _run_repo(args, tasks: list[RepoTask], out: Path, meta: dict):
    from .run import run_repo_task

    logs = out.with_suffix(".logs")  # agent output beside the results
    results = []
    if args.resume and out.exists():
        kept = store.load(out)
        if (kept.meta.get("agent"), kept.meta.get("model")) != (args.agent, args.model):
            raise ValueError(f"{out} holds {kept.meta.get('agent')} on {kept.meta.get('model')}, "
                             f"not {args.agent} on {args.model}")
        results = list(kept.results)  # all of them: a resume may name other --tasks
        meta.update(started=kept.meta.get("started"), resumed=meta["started"])
        before = kept.meta.get("agent_version")
        if before and not before.endswith(meta["agent_version"]):
            _say(f"note: the kept tasks ran on {before}, the others run on {meta['agent_version']}")
            meta["agent_version"] = f"{before}, resumed on {meta['agent_version']}"
        _say(f"resuming: {len(results)} tasks already in {out}")
    have = {r.task for r in results}
    with _agent(args, logs) as agent:
        for index, task in enumerate(tasks, 1):
            if task.id in have:
                continue
            head = f"[{index}/{len(tasks)}] {task.suite}/{task.id} ({task.difficulty})"
            _say(f"{head}: {agent.name} working...")

            def on_try(number, attempt, head=head) -> None:
                verdict = "pass" if attempt.passed else "fail"
                extra = " (timed out)" if attempt.timed_out else ""
                _say(f"{head}: try {number} {verdict}{extra} in {attempt.seconds:.0f} s, "
                     f"{attempt.metrics.steps} steps")

            result = run_repo_task(task, agent, args.model, tries=args.tries, timeout=args.timeout,
                                   logs=logs / args.agent / task.id, on_try=on_try)
            if result.skipped:
                _say(f"{head}: skipped ({result.skipped})")
            results.append(result)
            store.save(out, meta, results)  # a long run interrupted keeps what it has
    return results


def _gemma_code_conditions(args: argparse.Namespace) -> dict:
    """gemma-code's own conditions: its --attempts and the GEMMA_CODE_* settings it inherits
    (an ablation switches a feature off that way)."""
    if args.agent != "gemma-code":
        return {}
    inherited = {k: v for k, v in os.environ.items()
                 if k.startswith("GEMMA_CODE_") and k not in ("GEMMA_CODE_MODEL", "GEMMA_CODE_BACKEND")}
    return {"attempts": args.attempts, "settings_env": inherited}


def _agent(args, logs: Path):
    from contextlib import nullcontext

    from .agents import GemmaCode

    if args.agent == "gemma-code":
        return nullcontext(GemmaCode(model=args.model, backend=args.backend, max_steps=args.max_steps,
                                     temperature=args.temperature, max_tokens=args.max_tokens,
                                     threads=args.threads, base_url=args.base_url,
                                     extra=["--attempts", str(args.attempts)] if args.attempts > 1 else []))
    from .peers import peer

    return peer(args.agent, args.model, context_size=args.context_size, max_steps=args.max_steps,
                temperature=args.temperature, max_tokens=args.max_tokens, log=_say,
                logs=logs / "server.log", n_threads=args.threads)
