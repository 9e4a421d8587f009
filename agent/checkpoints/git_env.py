"""How git is run for the shadow repository: one process per command, in an environment of its own.

Every command names its repository, work tree and index through the environment, so that
nothing inherited (a parent git's GIT_DIR when run from a hook, say) points it elsewhere.
Settings go in as environment config, which wins over the user's config and writes nothing.
The process itself is started by `host_git.run`: inherited GIT_* variables dropped, the
settings under which git runs no program (`SAFE_CONFIG`) under the shadow's own.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from .. import host_git
from .records import CheckpointError

# The author and committer of every shadow snapshot.
IDENTITY = {"name": "gemma-code checkpoints", "email": "checkpoints@gemma-code.invalid"}
# Settings for every shadow command, passed as environment config so that they win over the
# user's global config and need no writes: no hooks, no signing, no line-ending conversion,
# no fsmonitor daemon (it would outlive us), no automatic gc.
SHADOW_CONFIG = {
    "commit.gpgSign": "false",
    "core.autocrlf": "false",
    "core.safecrlf": "false",
    "core.fsmonitor": "false",
    "core.quotePath": "false",
    "gc.auto": "0",
    "advice.addEmbeddedRepo": "false",
}


def git_executable() -> str:
    """The git program (found once on PATH)."""
    return host_git.git_program()


def isolated_env(git_dir: Path, common_dir: Path, work_tree: Path, index: Path) -> dict[str, str]:
    """Environment for one repository: every variable that could point git elsewhere (a
    parent git's GIT_DIR or GIT_INDEX_FILE, say, when run from a hook) set to its own value."""
    return {
        "GIT_DIR": str(git_dir),
        "GIT_WORK_TREE": str(work_tree),
        "GIT_INDEX_FILE": str(index),
        "GIT_COMMON_DIR": str(common_dir),
        "GIT_OBJECT_DIRECTORY": str(common_dir / "objects"),
        "GIT_ALTERNATE_OBJECT_DIRECTORIES": "",
        "GIT_NAMESPACE": "",
        "GIT_CONFIG_PARAMETERS": "",
        "GIT_CONFIG_COUNT": "0",
        "GIT_LITERAL_PATHSPECS": "1",  # file names with * or [ are names, not patterns
        "GIT_GLOB_PATHSPECS": "0",
        "GIT_NOGLOB_PATHSPECS": "0",
        "GIT_ICASE_PATHSPECS": "0",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_EDITOR": ":",
    }


def shadow_env(git_dir: Path, work_tree: Path) -> dict[str, str]:
    """Environment for the shadow repository: isolated, its settings, hooks off, our identity."""
    env = isolated_env(git_dir, git_dir, work_tree, git_dir / "index")
    config = {**host_git.SAFE_CONFIG, **SHADOW_CONFIG,
              "core.hooksPath": str(git_dir / "hooks-disabled")}
    env.update(host_git.config_env(config))
    env.update(GIT_NO_REPLACE_OBJECTS="1")
    for role in ("AUTHOR", "COMMITTER"):
        env[f"GIT_{role}_NAME"], env[f"GIT_{role}_EMAIL"] = IDENTITY["name"], IDENTITY["email"]
    return env


def execute(cwd: Path, cmd: list[str], env: dict[str, str], data: bytes | None,
            check: bool, pass_fds: tuple[int, ...]) -> tuple[int, bytes, str]:
    """Run `cmd` (git and its arguments) with `data` on stdin; (status, stdout, stderr), or
    CheckpointError if `check`."""
    rc, out, err = host_git.run(cmd[1:], cwd, env, data, pass_fds)
    if check and rc != 0:
        raise git_error(cmd[1:], err)
    return rc, out, err


def git_error(args: Iterable[str], stderr: str) -> CheckpointError:
    """The error for a failed git command, its --git-dir and --work-tree left out."""
    command = " ".join(a for a in args if not a.startswith("--git-dir") and not a.startswith("--work-tree"))
    if "index.lock" in stderr and "File exists" in stderr:
        return CheckpointError(
            f"another git process is using the checkpoint repository (git {command}): {stderr.strip()}"
        )
    return CheckpointError(f"git {command} failed: {stderr.strip()}")


def nul_join(paths: Iterable[str]) -> bytes:
    """Paths as git's `--pathspec-file-nul` input."""
    return b"".join(os.fsencode(p) + b"\0" for p in paths)
