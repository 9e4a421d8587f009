"""Git commands that destroy history where an undo may not reach it: these ask in every mode.

Checkpoints record refs, HEAD, the stash, the index and `info/exclude` with every snapshot,
and keep the objects they point at, so an undo puts those back. What they cannot bring back
asks first: ignored files (`git clean -x`), and what git itself throws away for good
(`gc`, `prune`, `repack -a -d`, reflog expiry, worktree records). Rewriting or dropping
history (`commit --amend`, stash `pop`/`drop`/`clear`, forced branch and tag moves and
deletions, `reset --hard` to another commit, `update-ref`, `symbolic-ref`, `filter-branch`,
`replace`) asks too, since a person should see it happen, undo or not.

Long options count when abbreviated (`--am` is `--amend` to git). A `pop` or `drop` right
after a `git stash` on the same line takes back what that line stashed, and does not ask.
"""

from __future__ import annotations

import fnmatch
import os
import posixpath
from collections.abc import Callable

from .arguments import short_flags
from .paths import Paths, State
from .shell_syntax import Word

_STASH_PUSHES = frozenset({"push", "save"})
_STASH_SUBCOMMANDS = frozenset({"list", "show", "apply", "create", "store", "pop", "drop",
                                "branch", "clear", "push", "save"})
_RESET_MODES = ("--hard", "--keep", "--merge")
_FIND_NAME_TESTS = frozenset({"-name", "-iname", "-path", "-ipath", "-wholename",
                              "-iwholename"})
# Names of what lives in a `.git` folder: a find whose name test matches none stays out.
_GIT_NAMES = (".git", "index", "HEAD", "ORIG_HEAD", "FETCH_HEAD", "config", "packed-refs",
              "description", "COMMIT_EDITMSG", "exclude", "main", "master", "stash", "objects",
              "refs", "logs", "heads", "tags", "info", "hooks", "pack-0a1b2c3d.pack",
              "pack-0a1b2c3d.idx", "0a1b2c3d4e5f60718293a4b5c6d7e8f9012345")


def _options(rest: list[str]) -> list[str]:
    """The arguments before `--`."""
    return rest[:rest.index("--")] if "--" in rest else rest


def _long(rest: list[str], *names: str) -> bool:
    """Whether one of the long options `names` is given, abbreviated or not (`--am`)."""
    for token in _options(rest):
        option = token.split("=", 1)[0]
        if option.startswith("--") and len(option) > 3 and any(n.startswith(option) for n in names):
            return True
    return False


def _operands(rest: list[str], value_options: tuple[str, ...] = ()) -> list[str]:
    found, skip = [], False
    for k, token in enumerate(rest):
        if skip:
            skip = False
        elif token == "--":
            return found + rest[k + 1:]
        elif token in value_options:
            skip = True
        elif not token.startswith("-"):
            found.append(token)
    return found


def _stash(rest: list[str], state: State | None) -> str | None:
    action = rest[0] if rest and rest[0] in _STASH_SUBCOMMANDS else "push"
    if action in _STASH_PUSHES:
        if state is not None:
            state.stashed += 1
        return None
    if action == "clear":
        return "throws away stashed changes (git stash clear)"
    if action not in ("pop", "drop", "branch"):
        return None
    named = _operands(rest[1:], ("-m", "--message"))
    own = action in ("pop", "drop") and not named
    if own and state is not None and state.stashed > 0:
        state.stashed -= 1  # what this line stashed a moment ago
        return None
    if action == "drop":
        return "throws away stashed changes (git stash drop)"
    return f"takes an entry off the stash (git stash {action})"


def _branch(rest: list[str], state: State | None) -> str | None:
    flags = short_flags(_options(rest))
    deleting = "d" in flags or _long(rest, "--delete")
    forced = "f" in flags or _long(rest, "--force")
    if "D" in flags or (deleting and forced):
        return "force-deletes a branch (git branch -D)"
    if "M" in flags or (("m" in flags or _long(rest, "--move")) and forced):
        return "renames a branch over any branch of that name (git branch -M)"
    if "C" in flags or (("c" in flags or _long(rest, "--copy")) and forced):
        return "copies a branch over any branch of that name (git branch -C)"
    if forced:
        return "moves a branch by force (git branch -f)"
    return None


def _tag(rest: list[str], state: State | None) -> str | None:
    flags = short_flags([t for t in _options(rest) if t not in ("-m", "-F")])
    if "d" in flags or _long(rest, "--delete"):
        return "deletes a tag (git tag -d)"
    if "f" in flags or _long(rest, "--force"):
        return "moves a tag by force (git tag -f)"
    return None


def _commit(rest: list[str], state: State | None) -> str | None:
    if _long(rest, "--amend"):
        return "rewrites the last commit (git commit --amend)"
    return None


def _clean(rest: list[str], state: State | None) -> str | None:
    flags = short_flags(_options(rest))
    if "n" in flags or _long(rest, "--dry-run"):
        return None
    if "x" in flags or "X" in flags:
        return ("deletes ignored files (.env, databases, build output), which checkpoints do "
                "not keep (git clean -x)")
    return None


def _reset(rest: list[str], state: State | None) -> str | None:
    mode = next((m for m in _RESET_MODES if _long(rest, m)), None)
    target = next((t for t in _options(rest) if not t.startswith("-")), "HEAD")
    if mode and target not in ("HEAD", "@"):
        return f"moves the branch to another commit and discards changes (git reset {mode} {target})"
    return None


def _checkout(rest: list[str], state: State | None) -> str | None:
    if "B" in short_flags(_options(rest)):
        return "resets a branch by force (git checkout -B)"
    return None


def _switch(rest: list[str], state: State | None) -> str | None:
    if "C" in short_flags(_options(rest)) or _long(rest, "--force-create"):
        return "resets a branch by force (git switch -C)"
    return None


def _worktree(rest: list[str], state: State | None) -> str | None:
    action, options = (rest[0] if rest else ""), rest[1:]
    if action == "add" and "B" in short_flags(_options(options)):
        return "resets a branch by force (git worktree add -B)"
    if action == "prune" and not ("n" in short_flags(options) or _long(options, "--dry-run")):
        return "deletes the records of worktrees (git worktree prune)"
    if action == "remove":
        return "deletes a worktree with its changes (git worktree remove)"
    return None


def _update_ref(rest: list[str], state: State | None) -> str | None:
    if "-d" in rest or _long(rest, "--delete"):
        return "deletes a ref (git update-ref -d)"
    return "moves a ref directly (git update-ref)"


def _symbolic_ref(rest: list[str], state: State | None) -> str | None:
    if "d" in short_flags(_options(rest)) or _long(rest, "--delete"):
        return "deletes a symbolic ref (git symbolic-ref -d)"
    if len(_operands(rest, ("-m",))) >= 2:
        return "points a symbolic ref elsewhere (git symbolic-ref)"
    return None


def _reflog(rest: list[str], state: State | None) -> str | None:
    if rest[:1] in (["expire"], ["delete"], ["drop"]):
        return f"deletes reflog entries (git reflog {rest[0]})"
    return None


def _gc(rest: list[str], state: State | None) -> str | None:
    if any(t in ("--prune=now", "--prune=all") for t in rest):
        return "deletes unreachable commits (git gc --prune=now)"
    return "deletes unreachable commits and expires reflogs (git gc)"


def _prune(rest: list[str], state: State | None) -> str | None:
    if "-n" in rest or _long(rest, "--dry-run"):
        return None
    return "deletes unreachable commits (git prune)"


def _repack(rest: list[str], state: State | None) -> str | None:
    flags = short_flags(_options(rest))
    if "d" in flags and "a" in flags:
        return "deletes unreachable objects (git repack -a -d)"
    return None


def _maintenance(rest: list[str], state: State | None) -> str | None:
    return f"runs or schedules git maintenance, which prunes (git maintenance {' '.join(rest[:1])})"


def _rewrite(name: str) -> Callable[[list[str], State | None], str | None]:
    return lambda rest, state: f"rewrites history (git {name})"


def _replace(rest: list[str], state: State | None) -> str | None:
    if not _operands(rest) and not ({"-d", "--delete", "--edit", "--graft"} & set(rest)):
        return None  # listing
    if {"-l", "--list"} & set(rest):
        return None
    return "replaces objects in history (git replace)"


HISTORY: dict[str, Callable[[list[str], State | None], str | None]] = {
    "stash": _stash, "branch": _branch, "tag": _tag, "commit": _commit, "clean": _clean,
    "reset": _reset, "checkout": _checkout, "switch": _switch, "worktree": _worktree,
    "update-ref": _update_ref, "symbolic-ref": _symbolic_ref, "reflog": _reflog, "gc": _gc,
    "prune": _prune, "repack": _repack, "maintenance": _maintenance,
    "filter-branch": _rewrite("filter-branch"), "filter-repo": _rewrite("filter-repo"),
    "replace": _replace,
}


def history_reason(subcommand: str, rest: list[str], state: State | None) -> str | None:
    """Why `git SUBCOMMAND REST` destroys history, or None; `state` follows the line's stashes."""
    check = HISTORY.get(subcommand)
    return check(rest, state) if check else None


# ---- find reaching into .git


def find_reaches_git(paths: Paths, starts: list[Word], expression: list[Word],
                     cwd: str | None) -> list[Word]:
    """The `.git` folders a find from `starts` walks into, unless its name tests keep it out."""
    if _names_keep_out(expression):
        return []
    found = []
    for start in starts:
        for place in paths.places(start, cwd) or []:
            if not place.glob and os.path.lexists(posixpath.join(place.text, ".git")):
                found.append(Word(posixpath.join(start.text, ".git"), start.raw))
    return found


def _names_keep_out(expression: list[Word]) -> bool:
    """A name test (not negated, no `-o`) that no name in a `.git` folder matches."""
    texts = [w.text for w in expression]
    if any(t in ("-o", "-or", ",") for t in texts):
        return False
    kept_out = False
    for k, test in enumerate(texts[:-1]):
        if test not in _FIND_NAME_TESTS or (k and texts[k - 1] in ("!", "-not")):
            continue
        fold = str.casefold if test.startswith("-i") else str
        pattern = fold(texts[k + 1])
        names = _GIT_NAMES if test.endswith("name") and "whole" not in test else [
            f"./.git/{name}" for name in _GIT_NAMES] + ["./.git"]
        if any(fnmatch.fnmatchcase(fold(name), pattern) for name in names):
            return False
        kept_out = True
    return kept_out
