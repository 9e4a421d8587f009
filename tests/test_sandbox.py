"""Shell sandboxes with real bubblewrap and real processes; the macOS profile as text.

Tests that need bwrap skip (saying why) where it is missing or cannot run; CI installs it.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from gemma_code.agent.protocols import ShellSandbox, ToolContext
from gemma_code.agent.workspace import LocalWorkspace
from gemma_code.tools import sandbox as sandbox_module
from gemma_code.tools.sandbox import (
    Bubblewrap,
    SandboxExec,
    detect_sandbox,
    sandbox_unavailable_reason,
    seatbelt_profile,
)
from gemma_code.tools.shell import RunShell

from .conftest import git, marker_pids

ON_LINUX = sys.platform.startswith("linux")
SANDBOX_TMP = Path("/tmp")  # what the sandbox replaces with its own, private /tmp
# A script for a child Python that runs one RunShell call; the command comes in the environment
# so that the child's own command line never carries a test's marker.
CHILD = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from gemma_code.agent.protocols import ToolContext
    from gemma_code.agent.workspace import LocalWorkspace
    from gemma_code.tools.sandbox import Bubblewrap
    from gemma_code.tools.shell import RunShell

    sandbox = Bubblewrap() if sys.argv[2] == "sandbox" else None
    ctx = ToolContext(workspace=LocalWorkspace(Path(sys.argv[1])), shell_timeout=300,
                      sandbox=sandbox)
    RunShell()(RunShell.Args(command=os.environ["SANDBOX_TEST_COMMAND"]), ctx)
    """
)


# --- helpers -------------------------------------------------------------------------------


@pytest.fixture
def bwrap() -> Bubblewrap:
    """A Bubblewrap without network; skips the test where bwrap cannot be used."""
    if not ON_LINUX:
        pytest.skip("bubblewrap sandboxes exist on Linux only")
    if shutil.which("bwrap") is None:
        pytest.skip("bwrap is not installed (apt install bubblewrap); CI installs it")
    reason = sandbox_unavailable_reason()
    if reason:
        pytest.skip(f"bwrap is installed but unusable here: {reason}")
    return Bubblewrap()


@pytest.fixture
def ws() -> Iterator[Path]:
    """The workspace, under /tmp (like pytest's tmp_path), which the sandbox must keep visible."""
    with tempfile.TemporaryDirectory(dir=SANDBOX_TMP, prefix="gemma-sandbox-ws-") as root:
        yield Path(root).resolve()


@pytest.fixture
def visible_dir(ws: Path) -> Iterator[Path]:
    """A folder we can write outside the workspace that the sandbox shows (not under /tmp)."""
    home = Path.home().resolve()
    hidden = SANDBOX_TMP.resolve()
    if home.is_relative_to(ws) or home.is_relative_to(hidden) or not os.access(home, os.W_OK):
        pytest.skip(f"HOME ({home}) is not a writable folder outside the workspace and /tmp")
    with tempfile.TemporaryDirectory(dir=home, prefix=".gemma-sandbox-test-") as folder:
        yield Path(folder)


def in_sandbox(sandbox: ShellSandbox, root: Path, command: str, timeout: float = 30):
    return subprocess.run(
        sandbox.wrap(["bash", "-c", command], root),
        cwd=root,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_tool(ctx: ToolContext, command: str, **kwargs):
    return RunShell()(RunShell.Args(command=command, **kwargs), ctx)


def text_of(result) -> str:
    return "\n".join(part.text for part in result.content)


def wait_for(condition, within: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return bool(condition())


def kill_leftovers(pids: list[int]) -> None:
    """SIGKILL the given processes: only ones this test started and found by its marker."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def storm(marker: str, plain: int, detached: int, double_forked: int) -> str:
    """A command that starts marked `sleep 300`s: in the background, after setsid, twice forked."""
    sleeper = f"exec -a {marker} sleep 300"
    return (
        f"for i in $(seq {plain}); do ({sleeper}) & done; "
        f"for i in $(seq {detached}); do setsid bash -c '{sleeper}' & done; "
        f"for i in $(seq {double_forked}); do (setsid bash -c '({sleeper}) &' &); done; "
        "touch started; sleep 300"
    )


# --- filesystem ----------------------------------------------------------------------------


def test_workspace_is_writable_and_seen_outside(bwrap, ws):
    done = in_sandbox(bwrap, ws, "echo made inside > made.txt && mkdir -p sub && pwd")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(ws.resolve())
    assert (ws / "made.txt").read_text() == "made inside\n"
    assert (ws / "sub").is_dir()


def test_folder_outside_the_workspace_is_read_only(bwrap, ws, visible_dir):
    target = visible_dir / "leak.txt"
    done = in_sandbox(bwrap, ws, f"ls {visible_dir} >/dev/null && echo x > {target}")
    assert done.returncode != 0
    assert "Read-only file system" in done.stderr
    assert not target.exists()


def test_home_is_read_only(bwrap, ws):
    home = Path.home().resolve()
    if home.is_relative_to(ws):
        pytest.skip("HOME is inside the workspace")
    name = f".gemma-sandbox-test-{uuid.uuid4().hex}"
    try:
        done = in_sandbox(bwrap, ws, f"touch ~/{name}")
        assert done.returncode != 0
        assert not (home / name).exists()
    finally:
        (home / name).unlink(missing_ok=True)


def test_commands_on_path_under_tmp_stay_usable(bwrap, ws, monkeypatch):
    """A tool folder (or this very virtualenv) under /tmp is not hidden by the private /tmp."""
    with tempfile.TemporaryDirectory(dir=SANDBOX_TMP) as folder:
        tool = Path(folder) / "hello-tool"
        tool.write_text("#!/bin/sh\necho hello from the tool\n")
        tool.chmod(0o755)
        monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
        done = in_sandbox(bwrap, ws, f"hello-tool && {sys.executable} -c 'print(1 + 1)' "
                                     f"&& echo x > {folder}/written")
        assert done.stdout.splitlines() == ["hello from the tool", "2"], done.stderr
        assert not (Path(folder) / "written").exists()  # visible, but read-only


def test_tmp_is_private_and_writable(bwrap, ws):
    name = f"gemma-sandbox-test-{uuid.uuid4().hex}"
    with tempfile.TemporaryDirectory(dir=SANDBOX_TMP) as folder:
        outside = Path(folder)
        (outside / "host.txt").write_text("host\n")
        done = in_sandbox(
            bwrap,
            ws,
            f"echo private > /tmp/{name} && cat /tmp/{name}; "
            f"test -e {outside}/host.txt && echo SEEN; echo x > {outside}/leak.txt",
        )
        assert done.stdout.splitlines() == ["private"]
        assert not (SANDBOX_TMP / name).exists()
        assert not (outside / "leak.txt").exists()


def test_tmpdir_points_at_the_private_tmp(bwrap, ws, visible_dir, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(visible_dir))
    done = in_sandbox(bwrap, ws, "echo $TMPDIR; mktemp")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "/tmp"


# --- network -------------------------------------------------------------------------------


@pytest.fixture
def listener() -> Iterator[int]:
    """A TCP listener on 127.0.0.1 (the kernel completes connections); closed after the test."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield server.getsockname()[1]
    finally:
        server.close()


def connect_command(port: int) -> str:
    code = (
        f"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=5); "
        "print('connected')"
    )
    return f'{sys.executable} -c "{code}"'


def test_no_network_by_default(bwrap, ws, listener):
    done = in_sandbox(bwrap, ws, connect_command(listener))
    assert done.returncode != 0
    assert "connected" not in done.stdout
    assert "ConnectionRefusedError" in done.stderr  # the sandbox's own, empty loopback


def test_network_when_allowed(bwrap, ws, listener):
    done = in_sandbox(Bubblewrap(network=True), ws, connect_command(listener))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "connected"


def test_host_daemon_sockets_are_covered(bwrap, ws, visible_dir, monkeypatch):
    path = visible_dir / "d.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(4)
    code = f"import socket; socket.socket(socket.AF_UNIX).connect('{path}'); print('connected')"
    command = f'{sys.executable} -c "{code}"'
    try:
        reachable = in_sandbox(bwrap, ws, command)
        monkeypatch.setattr(sandbox_module, "HOST_SOCKETS", (str(path),))
        covered = in_sandbox(bwrap, ws, command)
    finally:
        server.close()
    # A read-only mount alone does not stop connect(); covering the socket does.
    assert reachable.stdout.strip() == "connected"
    assert covered.returncode != 0 and "connected" not in covered.stdout


def test_user_runtime_folder_is_hidden(bwrap, ws, visible_dir, monkeypatch):
    (visible_dir / "bus").write_text("session bus stand-in\n")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(visible_dir))
    done = in_sandbox(bwrap, ws, f"ls -A {visible_dir}")
    assert done.returncode == 0 and done.stdout == ""


# --- git -----------------------------------------------------------------------------------


def test_git_hooks_and_config_are_read_only_but_commits_work(bwrap, repo):
    config = (repo / ".git" / "config").read_text()
    done = in_sandbox(
        bwrap,
        repo,
        "echo 'echo pwned' > .git/hooks/pre-commit; echo hook=$?; "
        "git config core.hooksPath /elsewhere; echo config=$?; "
        "mv .git .git-away; echo rename=$?; "
        "echo 'def sub(a, b):' > more.py && git add more.py && "
        "git -c user.name=t -c user.email=t@t commit -qm 'from the sandbox' && echo committed",
    )
    lines = done.stdout.splitlines()
    assert lines[0] == "hook=1" and lines[2] == "rename=1", done.stderr
    assert lines[1].startswith("config=") and lines[1] != "config=0", done.stderr
    assert lines[3] == "committed", done.stderr
    assert not (repo / ".git" / "hooks" / "pre-commit").exists()
    assert (repo / ".git" / "config").read_text() == config
    assert git(repo, "log", "-1", "--format=%s").strip() == "from the sandbox"
    assert git(repo, "show", "--name-only", "--format=", "HEAD").split() == ["more.py"]


def test_missing_hooks_folder_cannot_be_created(bwrap, repo):
    shutil.rmtree(repo / ".git" / "hooks")
    done = in_sandbox(bwrap, repo, "mkdir -p .git/hooks && echo pwned > .git/hooks/post-commit")
    assert done.returncode != 0
    assert list((repo / ".git" / "hooks").iterdir()) == []


# --- processes -----------------------------------------------------------------------------


def test_timeout_kills_every_process_of_a_fork_storm(bwrap, ws):
    marker = f"gemma-sbx-{uuid.uuid4().hex[:12]}"
    plain, detached, double_forked = 150, 50, 30
    expected = plain + detached + double_forked
    ctx = ToolContext(workspace=LocalWorkspace(ws), shell_timeout=10, sandbox=bwrap)
    results = []
    worker = threading.Thread(
        target=lambda: results.append(run_tool(ctx, storm(marker, plain, detached, double_forked)))
    )
    started = time.monotonic()
    worker.start()
    spawned = 0

    def all_spawned() -> bool:
        nonlocal spawned
        spawned = max(spawned, len(marker_pids(marker, leading=True)))
        return spawned >= expected

    wait_for(all_spawned, within=9, step=0.2)
    worker.join(30)
    took = time.monotonic() - started
    gone = wait_for(lambda: not marker_pids(marker), within=5)
    left = marker_pids(marker)
    kill_leftovers(left)
    print(f"fork storm: {spawned} of {expected} sleepers seen running, {len(left)} left after "
          f"the timeout ({took:.1f}s)")
    assert not worker.is_alive()
    assert spawned == expected, "the storm did not get going; the count below means nothing"
    assert gone and not left, f"{len(left)} processes survived: {left}"
    assert results[0].is_error and results[0].summary.startswith("timed out after 10s")
    assert took < 10 + 5


def run_child(ws: Path, mode: str, command: str) -> subprocess.Popen:
    env = {**os.environ, "SANDBOX_TEST_COMMAND": command}
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(ws), mode], env=env, stdin=subprocess.DEVNULL
    )


def test_sigkill_of_the_agent_ends_the_sandboxed_command(bwrap, ws):
    marker = f"gemma-sbx-{uuid.uuid4().hex[:12]}"
    child = run_child(ws, "sandbox", storm(marker, plain=10, detached=10, double_forked=10))
    try:
        assert wait_for((ws / "started").exists, within=20), "the command never started"
        assert wait_for(lambda: len(marker_pids(marker, leading=True)) == 30, within=10)
        running = len(marker_pids(marker))
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        gone = wait_for(lambda: not marker_pids(marker), within=5)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        left = marker_pids(marker)
        kill_leftovers(left)
    print(f"agent killed: {running} processes of the command were running, {len(left)} left")
    assert gone and not left, f"{len(left)} processes survived the agent: {left}"


@pytest.mark.skipif(not ON_LINUX, reason="the parent-death signal is a Linux feature")
def test_sigkill_of_the_agent_ends_unsandboxed_bash(ws):
    command = "echo $$ > bash.pid; sleep 300 & echo $! > sleep.pid; touch started; wait"
    child = run_child(ws, "plain", command)
    sleeper = None
    try:
        assert wait_for((ws / "started").exists, within=20), "the command never started"
        bash = int((ws / "bash.pid").read_text())
        sleeper = int((ws / "sleep.pid").read_text())
        assert alive(bash)
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        assert wait_for(lambda: not alive(bash), within=5), "bash outlived the agent"
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        if sleeper is not None:
            kill_leftovers([sleeper])  # an orphan by design: only bash gets the signal


# --- RunShell with a sandbox ---------------------------------------------------------------


def test_run_shell_in_the_sandbox_reads_like_a_normal_run(bwrap, ws):
    ctx = ToolContext(workspace=LocalWorkspace(ws), sandbox=bwrap)
    result = run_tool(ctx, "echo hello; echo oops >&2; pwd; cat; exit 3")
    assert len(result.content) == 1
    assert result.content[0].text.startswith(f"hello\noops\n{ws.resolve()}\n[exit code 3 after")
    assert result.exit_code == 3 and not result.is_error
    assert result.summary.startswith("exit 3 in ")


def test_run_shell_in_the_sandbox_keeps_timeout_cancel_and_output_caps(bwrap, ws):
    ctx = ToolContext(workspace=LocalWorkspace(ws), sandbox=bwrap)
    started = time.monotonic()
    timed_out = run_tool(ctx, "trap '' TERM; echo started; sleep 100", timeout=0.5)
    assert time.monotonic() - started < 6
    assert timed_out.summary.startswith("timed out after 0.5s")
    assert "started" in text_of(timed_out)

    threading.Timer(0.5, ctx.cancel.set).start()
    cancelled = run_tool(ctx, "sleep 100")
    assert cancelled.summary.startswith("cancelled")

    ctx.cancel.clear()
    big = run_tool(ctx, "seq 1 1500000")
    assert "[... 10872512 bytes of output left out ...]" in text_of(big)
    assert "1500000\n[exit code 0" in text_of(big)


def test_read_only_failure_gets_the_sandbox_note(bwrap, ws, visible_dir):
    ctx = ToolContext(workspace=LocalWorkspace(ws), sandbox=bwrap)
    result = run_tool(ctx, f"echo x > {visible_dir}/leak.txt")
    assert result.exit_code == 1
    assert "Read-only file system" in result.content[0].text
    note = result.content[-1].text
    assert len(result.content) == 2 and "\n" not in note
    assert "sandbox (bubblewrap)" in note and "no network" in note


class EchoSandbox:
    """Runs the command unconfined: for the note's logic without bwrap."""

    name = "test-sandbox"

    def __init__(self, network: bool = False) -> None:
        self.network = network

    def wrap(self, argv, root):
        return list(argv)


@pytest.mark.parametrize(
    ("command", "network", "noted"),
    [
        ("echo 'touch: x: Read-only file system' >&2; exit 1", False, True),
        ("echo 'curl: (6) Could not resolve host: pypi.org' >&2; exit 6", False, True),
        ("echo 'Temporary failure in name resolution'; exit 1", False, True),
        ("echo 'connect: Network is unreachable'; exit 2", False, True),
        ("echo 'Could not resolve host: pypi.org'; exit 6", True, False),  # network allowed
        ("echo 'Read-only file system'; exit 0", False, False),  # it did not fail
        ("echo 'plain failure'; exit 1", False, False),
    ],
)
def test_sandbox_note_only_for_sandbox_symptoms(ws, command, network, noted):
    ctx = ToolContext(workspace=LocalWorkspace(ws), sandbox=EchoSandbox(network))
    result = run_tool(ctx, command)
    assert (len(result.content) == 2) == noted
    if noted:
        assert "sandbox (test-sandbox)" in result.content[1].text
    assert (", and there is no network" in text_of(result)) == (noted and not network)


def test_no_note_without_a_sandbox(ws):
    ctx = ToolContext(workspace=LocalWorkspace(ws))
    result = run_tool(ctx, "echo 'Read-only file system' >&2; exit 1")
    assert len(result.content) == 1


# --- detection -----------------------------------------------------------------------------


def test_detect_finds_bubblewrap_and_probes_once(bwrap):
    before = sandbox_module._probe.cache_info()  # the fixture has probed already
    first, second = detect_sandbox(), detect_sandbox()
    after = sandbox_module._probe.cache_info()
    assert isinstance(first, Bubblewrap) and isinstance(second, Bubblewrap)
    assert first.network is False and sandbox_unavailable_reason() == ""
    assert after.misses == before.misses and after.hits >= before.hits + 2
    assert detect_sandbox(network=True).network is True


@pytest.mark.skipif(not ON_LINUX, reason="looks for bwrap, the Linux sandbox")
def test_detect_without_bwrap_on_path_says_what_to_install(monkeypatch):
    monkeypatch.setenv("PATH", "")
    assert detect_sandbox() is None
    reason = sandbox_unavailable_reason()
    assert "bubblewrap" in reason and "apt install bubblewrap" in reason


def test_broken_bwrap_reason_quotes_its_error(tmp_path, monkeypatch):
    fake = tmp_path / "bin" / "bwrap"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'bwrap: setting up uid map: Permission denied' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(fake.parent))
    monkeypatch.setattr(sys, "platform", "linux")
    assert detect_sandbox() is None
    assert "setting up uid map: Permission denied" in sandbox_unavailable_reason()


# --- command lines -------------------------------------------------------------------------


def test_bwrap_command_line_order(tmp_path):
    root = tmp_path.resolve() / "ws"
    (root / ".git" / "hooks").mkdir(parents=True)
    (root / ".git" / "config").write_text("[core]\n")
    argv = Bubblewrap(executable="bwrap").wrap(["bash", "-c", "true"], root)
    line = " ".join(argv)
    assert argv[0] == "bwrap" and argv[-4:] == ["--", "bash", "-c", "true"]
    assert "--share-net" not in argv and "--unshare-all" in argv
    assert "--die-with-parent" in argv and "--cap-drop ALL" in line
    workspace = line.index(f"--bind {root} {root}")
    assert line.index("--ro-bind / /") < line.index("--tmpfs /tmp") < workspace
    assert workspace < line.index(f"--ro-bind {root}/.git/hooks")
    assert f"--ro-bind {root}/.git/config {root}/.git/config" in line
    assert f"--chdir {root}" in line
    assert "--share-net" in Bubblewrap(network=True).wrap(["true"], root)


# --- macOS ---------------------------------------------------------------------------------


def test_seatbelt_profile_confines_writes_and_network(tmp_path):
    root = tmp_path / 'odd "name" \\ here'
    root.mkdir()
    profile = seatbelt_profile(root)
    escaped = f'{tmp_path}/odd \\"name\\" \\\\ here'  # odd \"name\" \\ here
    lines = profile.splitlines()
    assert lines[:3] == ["(version 1)", "(allow default)", "(deny file-write*)"]
    allow = next(line for line in lines if line.startswith("(allow file-write*"))
    for writable in (
        f'(subpath "{escaped}")',
        '(subpath "/private/tmp")',
        '(subpath "/private/var/folders")',
        '(literal "/dev/null")',
    ):
        assert writable in allow
    guard = next(i for i, line in enumerate(lines) if line.startswith("(deny file-write* ("))
    assert guard > lines.index(allow)  # later rules win in SBPL
    assert f'(subpath "{escaped}/.git/hooks")' in lines[guard]
    assert f'(subpath "{escaped}/.git/config")' in lines[guard]
    assert f'(subpath "{escaped}/.git/commondir")' in lines[guard]
    assert "(deny network*)" in lines
    assert "(allow network* (local unix-socket) (remote unix-socket))" in lines
    assert "network" not in seatbelt_profile(root, network=True)


def test_seatbelt_profile_names_the_real_path_too(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    profile = seatbelt_profile(link)
    assert f'(subpath "{link}")' in profile and f'(subpath "{real}")' in profile


def test_sandbox_exec_command_line(tmp_path):
    argv = SandboxExec().wrap(["bash", "-c", "true"], tmp_path)
    assert argv[:2] == ["sandbox-exec", "-p"]
    assert argv[2] == seatbelt_profile(tmp_path) and argv[3:] == ["bash", "-c", "true"]


@pytest.mark.skipif(
    not Path(sandbox_module.SANDBOX_EXEC).exists(),
    reason="sandbox-exec exists on macOS only; its profile is tested as text above",
)
def test_sandbox_exec_for_real(tmp_path):
    ws = tmp_path / "ws"
    (ws / ".git" / "hooks").mkdir(parents=True)
    home = Path.home() / f".gemma-sandbox-test-{uuid.uuid4().hex}"
    try:
        done = in_sandbox(
            SandboxExec(executable=sandbox_module.SANDBOX_EXEC),
            ws,
            f"echo in > in.txt; touch {home}; echo home=$?; touch .git/hooks/pre-commit; "
            "echo hook=$?; echo tmp > $TMPDIR/x-$$ && rm $TMPDIR/x-$$ && echo tmp=ok",
        )
        assert (ws / "in.txt").read_text() == "in\n"
        assert not home.exists() and not (ws / ".git" / "hooks" / "pre-commit").exists()
        assert done.stdout.splitlines() == ["home=1", "hook=1", "tmp=ok"], done.stderr
    finally:
        home.unlink(missing_ok=True)
