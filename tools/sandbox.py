"""Sandboxes for shell commands: bubblewrap on Linux, sandbox-exec on macOS.

Both leave the workspace writable and the rest of the filesystem read-only, keep a command
from planting git hooks or git config that would later run outside the sandbox, and cut the
network unless it is allowed. `detect_sandbox` finds one that works on this machine.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from gemma_code.agent.protocols import ShellSandbox
from gemma_code.agent.workspace import git_protected_paths

PROBE_TIMEOUT = 5.0
SANDBOX_EXEC = "/usr/bin/sandbox-exec"

# Sockets of daemons that run code outside any sandbox on request (container engines, the
# service managers). A read-only mount does not stop connect(), so these get covered up.
HOST_SOCKETS = (
    "/run/docker.sock",
    "/var/run/docker.sock",
    "/run/podman/podman.sock",
    "/run/containerd/containerd.sock",
    "/run/systemd/private",
    "/run/dbus/system_bus_socket",
)


class Bubblewrap:
    """Linux: runs commands under bubblewrap (`bwrap`)."""

    name = "bubblewrap"
    env_pass: tuple[str, ...] = ()  # credential-looking variables commands still get

    def __init__(self, network: bool = False, executable: str | None = None) -> None:
        self.network = network
        self.executable = executable or shutil.which("bwrap") or "bwrap"

    def wrap(self, argv: Sequence[str], root: Path) -> list[str]:
        """A bwrap command line: `root` and a private /tmp writable, the rest read-only."""
        root = Path(root).resolve()
        here = str(root)
        return [
            self.executable,
            *self._namespaces(),
            "--ro-bind", "/", "/",
            "--dev", "/dev",
            "--proc", "/proc",
            "--tmpfs", "/tmp",
            *_tools_under_tmp(),
            *_hide_host_services(),
            # After the /tmp tmpfs, so a workspace under /tmp stays visible and writable.
            "--bind", here, here,
            *_guard_git(root),
            *_private_tmpdir(root),
            "--chdir", here,
            "--",
            *argv,
        ]  # fmt: skip

    def _namespaces(self) -> list[str]:
        flags = ["--unshare-all"]  # user (where possible), ipc, pid, net, uts, cgroup
        if self.network:
            flags.append("--share-net")
        # --die-with-parent: bwrap and the sandbox's init get SIGKILL when their parent dies,
        # and the init's death ends every process in the pid namespace, setsid or not.
        # --cap-drop ALL: run as root, bwrap would otherwise keep every capability, and
        # `mount -o remount,rw /` would undo the read-only view.
        return [*flags, "--die-with-parent", "--cap-drop", "ALL"]


def _tools_under_tmp() -> list[str]:
    """Read-only binds for this Python's environment and PATH folders that live under /tmp.

    The private /tmp would hide them, and with them the commands the user expects to run.
    """
    wanted = [sys.prefix, *os.environ.get("PATH", "").split(os.pathsep)]
    tmp = Path("/tmp").resolve()
    kept: list[str] = []
    for folder in dict.fromkeys(os.path.realpath(p) for p in wanted if p):
        if Path(folder).is_relative_to(tmp) and Path(folder).is_dir():
            kept += ["--ro-bind", folder, folder]
    return kept


def _hide_host_services() -> list[str]:
    """Options that hide the user's runtime folder (session bus, agents) and daemon sockets."""
    args: list[str] = []
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and Path(runtime).is_dir():
        args += ["--tmpfs", str(Path(runtime).resolve())]
    seen: set[str] = set()
    for candidate in HOST_SOCKETS:
        path = os.path.realpath(candidate)
        if path not in seen and Path(path).is_socket():
            seen.add(path)
            args += ["--ro-bind", os.devnull, path]
    return args


# Parts of .git that make git run code or read settings from elsewhere: never writable.
# (`commondir` and `config.worktree` only when present: bwrap would leave an empty one
# behind, and git refuses an empty `commondir`; a new one is caught by the host side.)
_GIT_GUARDED = ("config", "config.worktree", "commondir", "hooks", "info", "modules", "worktrees")
# Folders git expects: when missing, an empty read-only stand-in keeps them from being made.
_GIT_STAND_INS = ("hooks", "info")


def _guard_git(root: Path) -> list[str]:
    """Options that keep the workspace's git config, hooks and repository pointers read-only.

    They run code when the user, or gemma-code, later uses git outside the sandbox. Objects,
    refs, logs, the index, HEAD and the other files git writes while it works stay writable.
    `.git` is also bound onto itself, which makes it a mount point that cannot be renamed
    away and replaced by a fresh, unguarded one; a `.git` file (a linked worktree's pointer)
    is read-only. Hooks folders and config files the repository's config names inside the
    workspace (`core.hooksPath=.husky`, an included file) are read-only too.
    """
    git = root / ".git"
    args: list[str] = []
    if git.is_file() and not git.is_symlink():
        args += _read_only(git)
    elif git.is_dir() and not git.is_symlink():
        args += ["--bind", str(git), str(git)]
        for name in _GIT_GUARDED:
            part = git / name
            if part.exists():
                args += _read_only(part)
            elif name in _GIT_STAND_INS and not part.is_symlink():
                # An empty, read-only stand-in (bwrap leaves the empty folder behind, as git init would).
                args += ["--tmpfs", str(part), "--remount-ro", str(part)]
    for path in git_protected_paths(root):
        if not path.is_relative_to(git):
            args += _read_only(path)
    return args


def _read_only(path: Path) -> list[str]:
    target = str(path.resolve())
    return ["--ro-bind", target, target]


def _private_tmpdir(root: Path) -> list[str]:
    """Point TMPDIR at the private /tmp when it names a folder the sandbox cannot write."""
    tmpdir = os.environ.get("TMPDIR")
    if not tmpdir or Path(tmpdir).resolve().is_relative_to(root):
        return []
    return ["--setenv", "TMPDIR", "/tmp"]


class SandboxExec:
    """macOS: runs commands under `sandbox-exec` with a generated Seatbelt profile."""

    name = "sandbox-exec"
    env_pass: tuple[str, ...] = ()  # credential-looking variables commands still get

    def __init__(self, network: bool = False, executable: str = "sandbox-exec") -> None:
        self.network = network
        self.executable = executable

    def wrap(self, argv: Sequence[str], root: Path) -> list[str]:
        """A sandbox-exec command line whose profile lets only `root` and temp dirs be written."""
        return [self.executable, "-p", seatbelt_profile(root, self.network), *argv]


# Devices that ordinary commands write to; everything else under /dev stays read-only.
_WRITABLE_DEVICES = (
    "/dev/null",
    "/dev/zero",
    "/dev/tty",
    "/dev/stdout",
    "/dev/stderr",
    "/dev/dtracehelper",
    "/dev/ptmx",
)


def seatbelt_profile(root: Path, network: bool = False) -> str:
    """The SBPL profile for `root`: allow by default, deny writes outside it and temp dirs."""
    roots = _mac_spellings(Path(root))
    writable = [
        *(f"(subpath {_sbpl_string(r)})" for r in roots),
        '(subpath "/private/tmp")',
        '(subpath "/private/var/folders")',
        *(f'(literal "{device}")' for device in _WRITABLE_DEVICES),
        '(regex #"^/dev/fd/[0-9]+$")',
        '(regex #"^/dev/ttys[0-9]+$")',
    ]
    # Later rules win in SBPL, so each exception follows the rule it carves out of.
    guarded = []
    for r in roots:
        git = f"{r}/.git"
        guarded.append(f"(literal {_sbpl_string(git)})")  # not renamed away and replaced
        # subpath: the file or folder, and whatever would be created in its place
        guarded += [f"(subpath {_sbpl_string(f'{git}/{name}')})" for name in _GIT_GUARDED]
    real_root = Path(os.path.realpath(root))
    for path in git_protected_paths(real_root):
        inside = path.relative_to(real_root).as_posix()
        guarded += [f"(subpath {_sbpl_string(f'{r}/{inside}')})" for r in roots]
    lines = [
        "(version 1)",
        "(allow default)",
        "(deny file-write*)",
        f"(allow file-write* {' '.join(writable)})",
        f"(deny file-write* {' '.join(guarded)})",
    ]
    if not network:
        lines += ["(deny network*)", "(allow network* (local unix-socket) (remote unix-socket))"]
    return "\n".join(lines) + "\n"


def _mac_spellings(root: Path) -> list[str]:
    """`root` as given and as the kernel sees it (/tmp is /private/tmp on macOS)."""
    spellings = [str(root.absolute()), os.path.realpath(root)]
    return list(dict.fromkeys(spellings))


def _sbpl_string(text: str) -> str:
    """`text` as an SBPL string literal (backslashes and double quotes escaped)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def detect_sandbox(network: bool = False, env_pass: Sequence[str] = ()) -> ShellSandbox | None:
    """A sandbox that works on this machine, or None (see `sandbox_unavailable_reason`).

    Commands in it get no credential-looking variables but those `env_pass` names."""
    sandbox = _find(network)[0]
    if sandbox is not None:
        sandbox.env_pass = tuple(env_pass)  # type: ignore[attr-defined]
    return sandbox


def sandbox_unavailable_reason(network: bool = False) -> str:
    """Why `detect_sandbox` finds none, with what the user can do; "" when it finds one."""
    return _find(network)[1]


def _find(network: bool) -> tuple[ShellSandbox | None, str]:
    if sys.platform.startswith("linux"):
        executable = shutil.which("bwrap")
        if executable is None:
            return None, (
                "bubblewrap is not installed, so shell commands cannot be sandboxed: install it "
                "(apt install bubblewrap, dnf install bubblewrap or pacman -S bubblewrap)"
            )
        return _checked(Bubblewrap, executable, network)
    if sys.platform == "darwin":
        if not Path(SANDBOX_EXEC).exists():
            return None, f"{SANDBOX_EXEC} is missing, so shell commands cannot be sandboxed"
        return _checked(SandboxExec, SANDBOX_EXEC, network)
    return None, f"shell commands cannot be sandboxed on {sys.platform} (only Linux and macOS)"


def _checked(kind: type, executable: str, network: bool) -> tuple[ShellSandbox | None, str]:
    failure = _probe(kind, executable, network)
    if failure is None:
        return kind(network=network, executable=executable), ""
    if kind is Bubblewrap:
        return None, (
            f"bubblewrap is installed but fails here ({failure}); it needs unprivileged user "
            "namespaces, which this kernel, container or AppArmor policy does not allow"
        )
    return None, f"sandbox-exec is installed but fails here ({failure})"


@functools.cache
def _probe(kind: type, executable: str, network: bool) -> str | None:
    """Run `true` in the sandbox once per process: None when it works, else what went wrong."""
    with tempfile.TemporaryDirectory() as root:
        argv = kind(network=network, executable=executable).wrap(["true"], Path(root))
        try:
            done = subprocess.run(
                argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=PROBE_TIMEOUT
            )
        except subprocess.TimeoutExpired:
            return f"a test run did not finish within {PROBE_TIMEOUT:g}s"
        except OSError as error:
            return f"it could not be started: {error}"
    if done.returncode == 0:
        return None
    lines = done.stderr.decode("utf-8", errors="replace").strip().splitlines()
    return lines[0] if lines else f"a test run exited with code {done.returncode}"
