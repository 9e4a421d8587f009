"""The `gemma-code` command line."""

from __future__ import annotations

import argparse
import json
import sys
import os
from pathlib import Path

from .config import Settings, load_settings

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


def _model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", help="registry name (see `gemma-code models`) or a path")
    parser.add_argument("--backend", choices=["auto", "llama.cpp", "mlx", "scripted"])
    parser.add_argument("--mmproj", help="image projector GGUF for a local model path")
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
    _directory_option(parser)


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
    parser = argparse.ArgumentParser(
        prog="gemma-code", description="A coding agent that runs entirely on your machine."
    )
    _model_options(parser)
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser("run", help="run the agent headless on one prompt")
    _model_options(run)
    run.add_argument("prompt", help="what to do")
    run.add_argument("--json", action="store_true", help="one JSON event per line on stdout")
    run.add_argument("--image", action="append", type=Path, default=[],
                     help="attach an image to the prompt (repeatable)")
    _resume_options(run)
    _resume_options(parser)
    sessions = sub.add_parser("sessions", help="list saved sessions of this workspace")
    sessions.add_argument("--all", action="store_true", help="of every workspace")
    _directory_option(sessions)
    undo = sub.add_parser("undo", help="restore the files changed by the last agent turn")
    _directory_option(undo)
    checkpoints = sub.add_parser("checkpoints", help="list the turns that can be undone")
    checkpoints.add_argument("--json", action="store_true")
    _directory_option(checkpoints)
    config = sub.add_parser("config", help="show the effective settings and where each comes from")
    _model_options(config)
    models = sub.add_parser("models", help="list the models gemma-code knows")
    models.add_argument("--json", action="store_true")
    pull = sub.add_parser("pull", help="download a model into the Hugging Face cache")
    pull.add_argument("name")
    sub.add_parser("schema", help="print the JSON Schema of `run --json` events")
    return parser


_SETTING_FLAGS = ("model", "backend", "mmproj", "approval", "max_steps", "context_size",
                  "max_tokens", "temperature", "constrain_tool_calls", "sandbox", "network",
                  "auto_commit")


def _settings(args: argparse.Namespace) -> tuple[Settings, dict[str, str]]:
    overrides = {name: getattr(args, name, None) for name in _SETTING_FLAGS}
    return load_settings(args.directory.resolve(), overrides)


def cmd_config(args: argparse.Namespace) -> int:
    settings, sources = _settings(args)
    for name, value in settings.model_dump().items():
        shown = json.dumps(list(value) if isinstance(value, tuple) else value)
        print(f"{name} = {shown}  ({sources[name]})")
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    from .headless import print_human, print_json
    from .messages import UserMessage
    from .session import open_session
    from .sessions import SessionStore

    from .images import ImageError, prepare_image

    try:  # a bad image fails before the model loads
        images = [prepare_image(path) for path in args.image]
    except ImageError as exc:
        raise ImageError(f"--image: {exc}") from None
    settings, _ = _settings(args)
    store = SessionStore()
    with open_session(settings, args.directory.resolve(), store=store,
                      resume=_resume_id(args, store),
                      notice=lambda text: print(text, file=sys.stderr)) as session:
        attached = []
        for image in images:
            for_model = session.attach_image(image)
            print(f"gemma-code: {for_model.how}", file=sys.stderr)
            attached.extend(for_model.parts)
        user = UserMessage.of(args.prompt, tuple(attached))
        events = session.run(user)
        done = print_json(events, sys.stdout) if args.json else print_human(events, sys.stdout, sys.stderr)
    if done is None:
        return EXIT_ERROR
    if done.reason in ("context_full", "cancelled"):
        print(f"gemma-code: stopped: {done.reason.replace('_', ' ')}", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK


def cmd_sessions(args: argparse.Namespace) -> int:
    from .sessions import SessionStore

    workspace = None if args.all else args.directory.resolve()
    for info in SessionStore().list(workspace):
        where = f"  {info.workspace}" if args.all else ""
        print(f"{info.id}  {info.model}  {info.title}{where}")
    return EXIT_OK


def cmd_undo(args: argparse.Namespace) -> int:
    from .checkpoints import Checkpoints, undo_summary

    print(undo_summary(Checkpoints(args.directory.resolve()).undo()))
    return EXIT_OK


def cmd_checkpoints(args: argparse.Namespace) -> int:
    from .checkpoints import Checkpoints

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


def cmd_schema(args: argparse.Namespace) -> int:
    from .events import event_json_schema

    print(json.dumps(event_json_schema(), indent=2))
    return EXIT_OK


def cmd_models(args: argparse.Namespace) -> int:
    from .model_commands import cmd_models as list_models

    return list_models(as_json=args.json)


def cmd_pull(args: argparse.Namespace) -> int:
    from .model_commands import cmd_pull as pull

    return pull(args.name)


def cmd_tui(args: argparse.Namespace) -> int:
    from .sessions import SessionStore
    from .tui.app import GemmaCodeApp

    settings, _ = _settings(args)
    store = SessionStore()
    resume = _resume_id(args, store)
    if resume is not None:
        store.load(resume)  # a wrong id fails here, before the screen changes
    app = GemmaCodeApp(settings, args.directory.resolve(), store=store, resume=resume)
    app.run()
    app.shutdown()
    if app.session_id is not None:
        print(f"gemma-code: session saved; go on with `gemma-code --resume {app.session_id}`",
              file=sys.stderr)
    return app.return_code or EXIT_OK


COMMANDS = {"run": cmd_run, "config": cmd_config, "models": cmd_models, "pull": cmd_pull,
            "sessions": cmd_sessions, "schema": cmd_schema, "undo": cmd_undo,
            "checkpoints": cmd_checkpoints, None: cmd_tui}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print("gemma-code: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the one place errors become a one-line reason
        if os.environ.get("GEMMA_CODE_DEBUG"):
            raise
        print(f"gemma-code: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_ERROR


def _one_line(exc: BaseException) -> str:
    """Our own errors speak for themselves; a builtin one (a bug, usually) names its type."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    is_ours = type(exc).__module__ != "builtins" or isinstance(exc, (OSError, ValueError))
    return text if is_ours and text else f"{type(exc).__name__}: {text} (GEMMA_CODE_DEBUG=1 shows the traceback)"


if __name__ == "__main__":
    sys.exit(main())
