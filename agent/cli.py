"""The `gemma-code` command line."""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
from pathlib import Path

from .config import ConfigError, LoadedSettings, Settings, load_config
from .errors import error_sentence
from .mcp.command import add_mcp_command, cmd_mcp

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


def _model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", help="registry name (see `gemma-code models`) or a path")
    parser.add_argument("--backend", choices=["auto", "llama.cpp", "mlx", "scripted", "openai"])
    parser.add_argument("--mmproj", help="image projector GGUF for a local model path")
    _server_options(parser)
    parser.add_argument(
        "--approval", choices=["read-only", "ask", "auto-edit", "auto"],
        help="what may run without asking (headless 'ask' denies and tells the model)",
    )
    parser.add_argument("--max-steps", type=int, dest="max_steps", help="model steps per turn")
    parser.add_argument("--context-size", type=int, dest="context_size")
    parser.add_argument("--max-tokens", type=int, dest="max_tokens", help="tokens per model step")
    parser.add_argument("--temperature", type=float)
    parser.add_argument(
        "--no-grammar", dest="constrain_tool_calls", action="store_const", const=False,
        help="do not constrain tool calls with a grammar",
    )
    parser.add_argument("--sandbox", choices=["auto", "off"],
                        help="confine shell commands when a sandbox exists (auto) or not (off)")
    parser.add_argument("--network", action="store_const", const=True,
                        help="let sandboxed shell commands use the network")
    parser.add_argument("--auto-commit", dest="auto_commit", action="store_const", const=True,
                        help="commit each turn's changes to the git repository")
    parser.add_argument("--no-verify", dest="verify", action="store_const", const="off",
                        help="do not run the project's tests after a turn that changed files")
    _directory_option(parser)


def _server_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--base-url", dest="base_url", metavar="URL",
                        help="an OpenAI-compatible server's /v1 URL, or ollama, lmstudio, vllm, "
                        "llama-server (their usual local addresses)")
    parser.add_argument("--api-key-env", dest="api_key_env", metavar="NAME",
                        help="the environment variable holding the server's API key")


def _directory_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-C", "--directory", type=Path, default=Path.cwd(),
                        help="workspace root (default: the current directory)")


def _resume_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--continue", dest="continue_last", action="store_true",
                       help="go on with the last session of this workspace")
    group.add_argument("--resume", metavar="ID", help="go on with a saved session")


def _resume_id(args: argparse.Namespace, store) -> str | None:
    if args.resume:
        return args.resume
    return store.latest(args.directory.resolve()) if args.continue_last else None


def build_parser() -> argparse.ArgumentParser:
    from .headless_run import EXIT_STATUS_HELP, package_version

    parser = argparse.ArgumentParser(
        prog="gemma-code", description="A coding agent that runs entirely on your machine."
    )
    parser.add_argument("--version", action="version", version=f"gemma-code {package_version()}")
    _model_options(parser)
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser("run", help="run the agent headless on one prompt", epilog=EXIT_STATUS_HELP,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    _model_options(run)
    run.add_argument("prompt", help="what to do; - reads it from stdin")
    run.add_argument("--json", action="store_true", help="one JSON event per line on stdout "
                     "(run_started first, run_finished last; schema: gemma-code schema)")
    run.add_argument("--image", action="append", type=Path, default=[],
                     help="attach an image to the prompt (repeatable)")
    run.add_argument("--attempts", type=_positive, default=1, metavar="N",
                     help="up to N independent tries, each from the same files; the first "
                     "whose changes pass the project's tests is kept, the others undone")
    _resume_options(run)
    _resume_options(parser)
    sessions = sub.add_parser("sessions", help="list saved sessions of this workspace")
    sessions.add_argument("--all", action="store_true", help="of every workspace")
    _directory_option(sessions)
    undo = sub.add_parser("undo", help="restore the files changed by the last agent turn")
    undo.add_argument("--show", metavar="SNAPSHOT:PATH", help="print a file as a snapshot "
                      "holds it (an undo names the snapshot of what it replaced); changes nothing")
    _directory_option(undo)
    checkpoints = sub.add_parser("checkpoints", help="list the turns that can be undone")
    checkpoints.add_argument("--json", action="store_true")
    _directory_option(checkpoints)
    config = sub.add_parser("config", help="show the effective settings and where each comes from")
    _model_options(config)
    models = sub.add_parser("models", help="list the models gemma-code knows (or a server's, "
                            "with --base-url)")
    models.add_argument("--json", action="store_true")
    _server_options(models)
    pull = sub.add_parser("pull", help="download a model into the Hugging Face cache")
    pull.add_argument("name")
    sub.add_parser("schema", help="print the JSON Schema of `run --json` events")
    trust = sub.add_parser("trust", help="show this project's settings that lower safety and "
                           "trust them (until its config changes)")
    trust.add_argument("--yes", action="store_true", help="trust without asking (no terminal needed)")
    trust.add_argument("--forget", action="store_true", help="stop trusting this project")
    _directory_option(trust)
    repomap = sub.add_parser("map", help="print the repo map the model gets, ranked for PROMPT")
    repomap.add_argument("prompt", nargs="?", default="", help="what the map is ranked for")
    repomap.add_argument("--tokens", type=int, help="token budget (default: repo_map_tokens; "
                         "tokens counted as about 4 characters, no model is loaded)")
    _directory_option(repomap)
    init = sub.add_parser("init", help="have the model write AGENTS.md (or improve it) from the "
                          "repo map, key files and the test command; the diff is shown first",
                          epilog="exit status: 0 AGENTS.md written; 1 not written (declined, the "
                          "model wrote none, an error); 3 ask mode without a terminal: the "
                          "proposal is printed, nothing written")
    _model_options(init)
    init.add_argument("request", nargs="?", default="", help="anything the file should say")
    init.add_argument("--yes", action="store_true", help="write AGENTS.md without asking "
                      "(without a terminal or --yes, ask mode only prints the proposal)")
    add_mcp_command(sub, _directory_option)
    return parser


_SETTING_FLAGS = ("model", "backend", "mmproj", "base_url", "api_key_env", "approval",
                  "max_steps", "context_size", "max_tokens", "temperature", "constrain_tool_calls",
                  "sandbox", "network", "auto_commit", "verify")


def _loaded(args: argparse.Namespace, trusted: bool | None = None) -> LoadedSettings:
    overrides = {name: getattr(args, name, None) for name in _SETTING_FLAGS}
    return load_config(args.directory.resolve(), overrides, trusted=trusted)


def cmd_config(args: argparse.Namespace) -> int:
    from .models import llama_threads
    from .trust import untrusted_reason

    loaded = _loaded(args)
    settings, sources = loaded.settings, loaded.sources
    ignored = {item.name: item for item in loaded.ignored}
    for name, value in settings.model_dump().items():
        if name == "mcp_servers" and value:
            from .mcp.listing import secrets_hidden

            value = {server: secrets_hidden(table) for server, table in value.items()}
        shown, source = json.dumps(list(value) if isinstance(value, tuple) else value), sources[name]
        if name == "n_threads" and value is None:  # the value chosen for this machine, and why
            count, why = llama_threads(settings)
            shown, source = str(count), f"{source}: {why}"
        if name in ignored and loaded.project is not None:  # set by a file the agent could write
            item = ignored[name]
            source += f"; {item.origin} sets {item.shown_value}, ignored: {untrusted_reason(loaded.project)}"
        print(f"{name} = {shown}  ({source})")
    for problem in loaded.problems:
        _say(problem)
    return EXIT_OK


def cmd_trust(args: argparse.Namespace) -> int:
    """Show the project's settings that lower safety; trust them on a yes (or `--yes`)."""
    from .trust import TrustStore

    root, store = args.directory.resolve(), TrustStore()
    if args.forget:
        print(f"{root} is no longer trusted" if store.forget(root) else f"{root} was not trusted")
        return EXIT_OK
    loaded = load_config(root, store=store, trusted=False)
    project = loaded.project
    if project is None or not loaded.ignored:
        where = project.names if project else "no project config file here; it"
        print(f"nothing to trust: {where} sets nothing that lowers safety")
        return EXIT_OK
    if project.state == "unusable":
        _say(project.why_unusable)
        return EXIT_ERROR
    print(f"{project.names} in {root} sets, lowering gemma-code's safety:")
    for item in loaded.ignored:
        print(f"  {item.shown()}")
    if project.state == "trusted":
        print("trusted already, as it is now")
        return EXIT_OK
    if not args.yes:
        if not sys.stdin.isatty():
            _say("not trusted: no terminal to ask on (`gemma-code trust --yes` trusts without asking)")
            return EXIT_USAGE
        answer = input("Trust these settings for this project, until its config changes? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("not trusted")
            return EXIT_ERROR
    store.trust(project, loaded.ignored)
    print(f"trusted until the project's settings change (remembered in {store.path})")
    return EXIT_OK


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def cmd_run(args: argparse.Namespace) -> int:
    from .headless_run import continued_line, prompt_message, read_prompt, run_headless
    from .images import ImageError, prepare_image
    from .lifecycle import open_session
    from .sessions import SessionStore

    prompt = read_prompt(args.prompt, sys.stdin, sys.stderr)  # empty: refused before anything loads
    try:  # a bad image fails before the model loads
        images = [prepare_image(path) for path in args.image]
    except ImageError as exc:
        raise ImageError(f"--image: {exc}") from None
    loaded = _loaded(args)
    for line in loaded.notices():  # settings of the workspace's files that were not taken
        _say(line)
    store = SessionStore()
    resume = _resume_id(args, store)
    with open_session(loaded.settings, args.directory.resolve(), store=store, resume=resume,
                      notice=lambda text: print(text, file=sys.stderr)) as lifecycle:
        if resume is not None:
            _say(continued_line(lifecycle))
        message = prompt_message(prompt, images, lifecycle, _say)
        return run_headless(lifecycle, message, as_json=args.json, continued=resume is not None,
                            out=sys.stdout, err=sys.stderr, attempts=args.attempts)


def _say(text: str) -> None:
    print(f"gemma-code: {text}", file=sys.stderr)


def cmd_sessions(args: argparse.Namespace) -> int:
    from .sessions import SessionStore

    workspace = None if args.all else args.directory.resolve()
    for info in SessionStore().list(workspace):
        where = f"  {info.workspace}" if args.all else ""
        print(f"{info.id}  {info.model}  {info.title}{where}")
    return EXIT_OK


def cmd_undo(args: argparse.Namespace) -> int:
    from .checkpoints.records import undo_summary
    from .checkpoints.store import Checkpoints

    checkpoints = Checkpoints(args.directory.resolve())
    if args.show:
        return _show_snapshot_file(checkpoints, args.show)
    print(undo_summary(checkpoints.undo()))
    return EXIT_OK


def _show_snapshot_file(checkpoints, wanted: str) -> int:
    """`undo --show SNAPSHOT:PATH`: the file as the snapshot holds it, on stdout."""
    snapshot, _, path = wanted.partition(":")
    is_snapshot = re.fullmatch(r"[0-9a-f]{7,40}", snapshot) is not None
    content = checkpoints.file_at(snapshot, path) if is_snapshot and path else None
    if content is None:
        _say(f"snapshot {snapshot or '(none)'} holds no file {path or '(none named)'}: give "
             "SNAPSHOT:PATH as `gemma-code undo` printed them")
        return EXIT_ERROR
    sys.stdout.buffer.write(content)
    return EXIT_OK


def cmd_checkpoints(args: argparse.Namespace) -> int:
    from .checkpoints.store import Checkpoints

    listed = Checkpoints(args.directory.resolve()).list()
    if args.json:
        print(json.dumps([c.as_json() for c in listed], indent=2))
        return EXIT_OK
    if not listed:
        print("no checkpoints yet for this workspace")
    for c in listed:
        state = "undone " if c.undone else ""
        files = ", ".join(c.files) or "(files not known: the turn did not finish)"
        print(f"{c.id}  {c.created:%Y-%m-%d %H:%M}  {state}{c.label}\n    {files}")
    return EXIT_OK


def cmd_map(args: argparse.Namespace) -> int:
    from .context import budgets
    from .context.prepare import load_index, repo_map, token_counter

    settings = _loaded(args).settings
    budget = args.tokens
    if budget is None:
        budget = budgets(settings, settings.context_size or 32768)[0]
    shown = repo_map(load_index(args.directory.resolve()), args.prompt, budget, token_counter(None))
    if not shown:
        _say(f"no map: no files, or none fits in {budget} tokens" if budget > 0
             else "no map: the budget is 0 (repo_map_tokens = 0 turns the map off)")
        return EXIT_OK
    print(shown)
    return EXIT_OK


def cmd_init(args: argparse.Namespace) -> int:
    """Have the model write AGENTS.md; the write is approved as any edit (see agent/init_run.py)."""
    from .init_run import InitApprover, run_init
    from .lifecycle import open_session
    from .sessions import SessionStore

    loaded = _loaded(args)
    for line in loaded.notices():
        _say(line)
    settings = loaded.settings.model_copy(update={"verify": "off"})  # AGENTS.md is no code
    approver = InitApprover(sys.stdout, sys.stdin if sys.stdin.isatty() else None, yes=args.yes)
    with open_session(settings, args.directory.resolve(), approver=approver, store=SessionStore(),
                      notice=_say) as lifecycle:
        return run_init(lifecycle, approver, request=args.request, out=sys.stdout, err=sys.stderr)


def cmd_schema(args: argparse.Namespace) -> int:
    from .events import event_json_schema

    print(json.dumps(event_json_schema(), indent=2))
    return EXIT_OK


def cmd_models(args: argparse.Namespace) -> int:
    from .models import print_models, print_server_models

    if args.base_url:
        return print_server_models(args.base_url, args.api_key_env, as_json=args.json)
    return print_models(as_json=args.json)


def cmd_pull(args: argparse.Namespace) -> int:
    from .models import pull_model

    return pull_model(args.name)


def cmd_tui(args: argparse.Namespace) -> int:
    from .sessions import SessionStore
    from .tui.app import GemmaCodeApp

    loaded = _loaded(args)
    store = SessionStore()
    resume = _resume_id(args, store)
    if resume is not None:
        store.load(resume)  # a wrong id fails here, before the screen changes
    app = GemmaCodeApp(loaded.settings, args.directory.resolve(), store=store, resume=resume,
                       trust=loaded.offer(_if_trusted(args)))
    app.run()
    app.shutdown()
    if app.session_id is not None:
        print(f"gemma-code: session saved; go on with `gemma-code --resume {app.session_id}`",
              file=sys.stderr)
    return app.return_code or EXIT_OK


def _if_trusted(args: argparse.Namespace) -> Settings | None:
    """The settings trusting the project would give (None: they would not be valid)."""
    try:
        return _loaded(args, trusted=True).settings
    except ConfigError:
        return None


COMMANDS = {"run": cmd_run, "config": cmd_config, "models": cmd_models, "pull": cmd_pull,
            "sessions": cmd_sessions, "schema": cmd_schema, "undo": cmd_undo,
            "checkpoints": cmd_checkpoints, "trust": cmd_trust, "map": cmd_map, "init": cmd_init,
            "mcp": cmd_mcp, None: cmd_tui}


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print("gemma-code: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`| head -1`): stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit either
        return 128 + signal.SIGPIPE
    except Exception as exc:  # noqa: BLE001 - the one place errors become a one-line reason
        if os.environ.get("GEMMA_CODE_DEBUG"):
            raise
        print(f"gemma-code: error: {error_sentence(exc)}", file=sys.stderr)
        return getattr(exc, "exit_code", EXIT_ERROR)  # a UsageError says 2


if __name__ == "__main__":
    sys.exit(main())
