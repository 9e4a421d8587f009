"""Every git command gemma-code runs on the host, under settings with which git runs no program.

Files the agent writes can make git run programs: config (`core.fsmonitor`, hooks, filter
drivers, a pager, an external diff), or a `.git` file, a `commondir` or a new repository that
points git at such config. So git runs only through `run`: the program found once, inherited
GIT_* variables dropped, the system config skipped, and `SAFE_CONFIG` (plus every filter
driver the config defines, emptied) set as environment config, which beats every config file.

The user's repository is pinned the first time this process looks at a workspace
(`host_repo`): its git dir, common dir and work tree are named on every call, and a
repository, `.git` file or `commondir` that appears or changes afterwards makes every call
refuse (`GitRefused`) without running git. Its config files (with the files they include)
and hooks are fingerprinted then too: auto-commit refuses when they changed, and file tools
may not write them (`write_refusal`).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import threading
from pathlib import Path

from .git_layout import Layout, changed_since, find_layout, read_text

# Settings that keep every git command from starting a program or reaching another repository.
SAFE_CONFIG = {
    "core.fsmonitor": "false",
    "core.hooksPath": os.devnull,  # nothing can be created below it, so no hook exists
    "core.pager": "cat",
    "core.editor": ":",
    "sequence.editor": ":",
    "core.sshCommand": "false",
    "credential.helper": "",  # an empty value clears the list
    "protocol.allow": "never",  # no transport: no lazy fetch, no ext:: command
    "diff.ignoreSubmodules": "all",  # no git started in nested repositories
    "status.submoduleSummary": "false",
    "submodule.recurse": "false",
    "gc.auto": "0",
    "maintenance.auto": "false",
    "log.showSignature": "false",
    "safe.bareRepository": "explicit",
}
SAFE_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_PAGER": "cat",
    "GIT_EDITOR": ":",
    "GIT_SEQUENCE_EDITOR": ":",
    "GIT_NO_LAZY_FETCH": "1",
    "GIT_LITERAL_PATHSPECS": "1",  # file names with * or [ are names, not patterns
    "LC_ALL": "C",  # messages are matched in English
    "LANGUAGE": "C",
}
# Inherited GIT_* variables that are kept: who the user is, their global config, where git is.
KEEP_ENV = frozenset({
    "GIT_EXEC_PATH", "GIT_CONFIG_GLOBAL", "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_AUTHOR_DATE",
    "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "GIT_COMMITTER_DATE",
})
# Every hook git runs (githooks(5)).
HOOK_NAMES = (
    "applypatch-msg", "pre-applypatch", "post-applypatch", "pre-commit", "pre-merge-commit",
    "prepare-commit-msg", "commit-msg", "post-commit", "pre-rebase", "post-checkout",
    "post-merge", "pre-push", "pre-receive", "update", "proc-receive", "post-receive",
    "post-update", "reference-transaction", "push-to-checkout", "pre-auto-gc", "post-rewrite",
    "sendemail-validate", "fsmonitor-watchman", "p4-changelist", "p4-prepare-changelist",
    "p4-post-changelist", "p4-pre-submit", "post-index-change",
)
# Commands that show diffs: external diff and textconv drivers are turned off on their line.
_DIFFING = frozenset({"diff", "log", "show"})

_program: str | None = None
_lock = threading.Lock()
_pins: dict[Path, HostRepo] = {}
_roots: set[Path] = set()


class GitRefused(Exception):
    """gemma-code will not run git in this repository; the message says why."""


def git_program() -> str:
    """The git executable: the first on PATH outside every workspace looked at (relative PATH
    entries skipped), found once, before any agent could plant another."""
    global _program
    if _program is None:
        folders = [p for p in os.environ.get("PATH", os.defpath).split(os.pathsep)
                   if os.path.isabs(p) and not any(Path(p).resolve().is_relative_to(r) for r in _roots)]
        _program = shutil.which("git", path=os.pathsep.join(folders)) or "git"
    return _program


def config_env(config: dict[str, str]) -> dict[str, str]:
    """`config` as environment config (command-line scope: above every config file)."""
    env = {"GIT_CONFIG_COUNT": str(len(config)), "GIT_CONFIG_PARAMETERS": ""}
    for i, (key, value) in enumerate(config.items()):
        env[f"GIT_CONFIG_KEY_{i}"], env[f"GIT_CONFIG_VALUE_{i}"] = key, value
    return env


def base_env() -> dict[str, str]:
    """This process's environment without GIT_* variables (but `KEEP_ENV`), plus `SAFE_ENV`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_") or k in KEEP_ENV}
    return {**env, **SAFE_ENV}


def run(args: list[str], cwd: Path, env: dict[str, str], data: bytes | None = None,
        pass_fds: tuple[int, ...] = (), timeout: float | None = None) -> tuple[int, bytes, str]:
    """Run `git ARGS` with `base_env()` updated by `env`; (status, stdout, stderr)."""
    done = subprocess.run(
        [git_program(), *args], cwd=cwd, env={**base_env(), **env}, input=data,
        stdin=subprocess.DEVNULL if data is None else None, capture_output=True,
        pass_fds=pass_fds, check=False, timeout=timeout,
    )
    return done.returncode, done.stdout, done.stderr.decode("utf-8", errors="replace")


# -- the user's repository ----------------------------------------------------------------


def _digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return "-"
    except OSError as exc:
        return f"unreadable: {exc.errno}"


class HostRepo:
    """The repository a workspace is in, as pinned when this process first looked at it."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        self.layout = find_layout(self.root)
        self.config_files: tuple[Path, ...] = ()
        self.hook_dirs: tuple[Path, ...] = ()
        self._hooks_setting = ""
        self._filters: tuple[tuple | None, dict[str, str]] = (None, {})
        if self.layout is not None:
            self._read_config()
        self._config_print = self._config_fingerprint()
        self._hooks_print = self._hooks_fingerprint()

    # -- running git

    def env(self) -> dict[str, str]:
        """The pinned repository and the safe settings, as environment for `run`."""
        layout = self.verify()
        if layout is None:
            raise GitRefused(f"{self.root} is not in a git repository")
        return {
            "GIT_DIR": str(layout.git_dir),
            "GIT_COMMON_DIR": str(layout.common_dir),
            "GIT_WORK_TREE": str(layout.top),
            "GIT_INDEX_FILE": str(layout.git_dir / "index"),
            "GIT_OBJECT_DIRECTORY": str(layout.common_dir / "objects"),
            "GIT_CEILING_DIRECTORIES": str(layout.top.parent),
            **config_env(self._safe_config()),
        }

    def _safe_config(self, filters: set[str] = frozenset()) -> dict[str, str]:
        config = {**SAFE_CONFIG, "safe.directory": str(self.layout.top)}
        for name in sorted(filters):
            config.update({f"filter.{name}.{key}": "" for key in ("clean", "smudge", "process")})
            config[f"filter.{name}.required"] = "false"
        return config

    def git(self, *args: str, data: bytes | None = None, extra_env: dict[str, str] | None = None,
            timeout: float | None = None) -> tuple[int, bytes, str]:
        """Run git in the pinned repository; GitRefused (nothing run) when it is not trusted."""
        env = self.env()
        env.update(self._filters_off(env))
        env.update(extra_env or {})
        if args and args[0] in _DIFFING:  # a diff or textconv driver's value is a program
            args = (args[0], "--no-ext-diff", "--no-textconv", *args[1:])
        return run(list(args), self.layout.top, env, data, timeout=timeout)

    def _filters_off(self, env: dict[str, str]) -> dict[str, str]:
        """Every filter driver the config defines now, emptied (a driver's value is a program).

        Looked up again only when a config file or HEAD (`includeIf "onbranch:"`) changed.
        """
        key = (self._config_fingerprint(), read_text(self.layout.git_dir / "HEAD"))
        if self._filters[0] != key:
            _, out, _ = run(["config", "--null", "--name-only", "--get-regexp", r"^filter\."],
                            self.layout.top, env)
            names = {name.decode(errors="surrogateescape")[len("filter."):].rpartition(".")[0]
                     for name in out.split(b"\0") if name}
            self._filters = (key, config_env(self._safe_config(names)))
        return self._filters[1]

    def verify(self) -> Layout | None:
        """The pinned layout, or GitRefused when what is on disk now differs from it."""
        why = changed_since(self.layout, find_layout(self.root))
        if why:
            raise GitRefused(why)
        return self.layout

    def branch(self) -> str | None:
        """The checked-out branch ("HEAD" when detached), read from HEAD; None when not trusted."""
        try:
            layout = self.verify()
        except GitRefused:
            return None
        head = read_text(layout.git_dir / "HEAD") if layout else None
        if head is None:
            return None
        ref = head.strip()
        return ref.removeprefix("ref:").strip().removeprefix("refs/heads/") if ref.startswith("ref:") else "HEAD"

    # -- config and hooks, fingerprinted

    def _read_config(self) -> None:
        """The config files in force (and every file they include) and the hooks folders."""
        try:
            _, out, _ = run(["config", "--list", "--null", "--show-origin"], self.layout.top,
                            self.env())
        except (OSError, GitRefused):
            out = b""
        fields = out.split(b"\0")
        files = {self.layout.common_dir / "config", self.layout.git_dir / "config.worktree"}
        hooks = ""
        for origin, entry in zip(fields[0::2], fields[1::2]):
            source = origin.decode(errors="surrogateescape")
            key, _, value = entry.decode(errors="surrogateescape").partition("\n")
            if not source.startswith("file:"):
                continue
            where = self.layout.top / source.removeprefix("file:")
            files.add(where)
            if key == "include.path" or (key.startswith("includeif.") and key.endswith(".path")):
                files.add(where.parent / Path(value).expanduser())
            elif key == "core.hookspath":
                hooks = value
        self.config_files = tuple(sorted(Path(os.path.abspath(f)) for f in files))
        self._hooks_setting = hooks
        folder = self.layout.top / Path(hooks).expanduser() if hooks else self.layout.common_dir / "hooks"
        folder = Path(os.path.abspath(folder))
        dirs = [folder]
        # husky keeps its runner in .husky/_ and the hooks people write in .husky itself
        if folder.name == "_" and folder.parent.is_relative_to(self.layout.top) \
                and folder.parent != self.layout.top:
            dirs.append(folder.parent)
        self.hook_dirs = tuple(dirs)

    def _hook_paths(self) -> list[Path]:
        """The hooks folders; for one that holds the workspace (`core.hooksPath=.`), its hooks."""
        found = []
        for folder in self.hook_dirs:
            if self.root.is_relative_to(folder):
                found += [folder / name for name in HOOK_NAMES]
            else:
                found.append(folder)
        return found

    def _config_fingerprint(self) -> tuple:
        return tuple((str(f), _digest(f)) for f in self.config_files)

    def _hooks_fingerprint(self) -> tuple:
        found = []
        for folder in self.hook_dirs:
            try:
                entries = sorted(os.scandir(folder), key=lambda e: e.name)
            except OSError:
                continue
            for entry in entries:
                kind = "dir" if entry.is_dir() else _digest(Path(entry.path))
                found.append((entry.path, kind, os.access(entry.path, os.X_OK)))
        return self._hooks_setting, tuple(found)

    def changed_since_pinned(self) -> str | None:
        """Why auto-commit must not run: git config or hooks changed since the pin; or None."""
        self.verify()
        if self._config_fingerprint() != self._config_print:
            changed = [f for f, d in self._config_print if _digest(Path(f)) != d]
            return (f"the repository's git config changed during this session ({', '.join(changed)}); "
                    "commit yourself once you have checked it")
        now = self._hooks_fingerprint()
        if now != self._hooks_print:
            changed = sorted({e[0] for e in set(now[1]) ^ set(self._hooks_print[1])})
            return (f"the repository's git hooks changed during this session ({', '.join(changed)}); "
                    "check them before you commit: git would run them")
        return None

    def write_refusal(self, path: Path) -> str | None:
        """Why a file tool must not write `path` (a hook or a git config file), or None."""
        path = Path(os.path.abspath(path))
        shown = path.relative_to(self.root).as_posix() if path.is_relative_to(self.root) else path
        for folder in self._hook_paths():
            if path.is_relative_to(folder):
                return (f"{shown} is in the repository's git hooks folder: git runs these files "
                        "outside the sandbox, so file tools do not write there (ask the user to)")
        if path in self.config_files:
            return (f"{shown} is git configuration of this repository: settings there can make "
                    "git run programs, so file tools do not write it (ask the user to)")
        return None

    def protected_paths(self) -> list[Path]:
        """The hooks folders and config files inside the workspace that exist now."""
        inside = [p for p in (*self._hook_paths(), *self.config_files) if p.is_relative_to(self.root)]
        return [p for p in inside if p.exists() and not p.is_symlink()]


def host_repo(root: Path) -> HostRepo:
    """The workspace's repository, pinned on the first call for `root` in this process."""
    key = Path(root).resolve()
    with _lock:
        pinned = _pins.get(key)
        if pinned is None:
            global _program
            _roots.add(key)  # its folders are off PATH from now on
            if _program is not None and Path(_program).resolve().is_relative_to(key):
                _program = None  # found in this workspace: look again, outside it
            pinned = _pins[key] = HostRepo(key)
        return pinned


def repository_changed(root: Path) -> str | None:
    """Why the workspace's repository is no longer the one pinned for it, or None."""
    try:
        host_repo(root).verify()
    except GitRefused as exc:
        return str(exc).partition(";")[0]
    return None


def write_refusal(root: Path, path: Path) -> str | None:
    """Why file tools must not write `path` in the workspace `root` (a git hook or config)."""
    rel = Path(path).relative_to(root)
    if ".git" in (part.casefold() for part in rel.parts):
        return f"{rel.as_posix()} is inside .git; git internals cannot be written by file tools"
    return host_repo(root).write_refusal(path)
