"""Checkpoints and undo: real git repositories, real shell commands, a shadow repository in tmp."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from gemma_code.agent.checkpoints.git_reads import GitReads
from gemma_code.agent.checkpoints.git_state import read_state
from gemma_code.agent.checkpoints.lock import FileLock
from gemma_code.agent.checkpoints.records import Checkpoint, CheckpointError
from gemma_code.agent.checkpoints.shadow import LOCK_NAME
from gemma_code.agent.checkpoints.store import (
    CHECKPOINTS_DIR_ENV, Checkpoints, default_checkpoints_dir,
)
from gemma_code.agent.checkpoints.user_repo import find_user_repo

IDENT = ("-c", "user.name=Test User", "-c", "user.email=test@example.com")


def clean_env() -> dict[str, str]:
    """The test's own git commands must not see variables a test sets to provoke leaks."""
    return {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True,
                          text=True, env=clean_env()).stdout


def sh(root: Path, command: str) -> None:
    """A shell command as the agent's run_shell tool would run it."""
    subprocess.run(["bash", "-c", command], cwd=root, check=True, env=clean_env())


def tree_state(root: Path) -> dict[str, tuple]:
    """Every path under root except .git: (kind, content or link target, executable)."""
    state = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = path.relative_to(root).as_posix()
            if path.is_symlink():
                state[rel] = ("link", os.readlink(path))
            elif path.is_dir():
                state[rel] = ("dir",)
            else:
                state[rel] = ("file", path.read_bytes(), bool(path.stat().st_mode & 0o111))
    return state


def dot_git_fingerprint(root: Path) -> dict[str, tuple]:
    """Everything under .git, mtimes included: a write that changes nothing still shows."""
    result = {}
    for dirpath, _dirnames, filenames in os.walk(root / ".git"):
        for name in filenames:
            path = Path(dirpath) / name
            st = path.lstat()
            result[path.relative_to(root).as_posix()] = (
                st.st_mode, st.st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest())
        result[Path(dirpath).relative_to(root).as_posix() + "/"] = (Path(dirpath).stat().st_mtime_ns,)
    return result


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "work space"
    root.mkdir()
    (root / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    (root / "README.md").write_text("# calc\n")
    (root / "docs").mkdir()
    (root / "docs" / "guide.md").write_text("guide\n")
    (root / ".gitignore").write_text("*.log\nbuild/\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", ".")
    git(root, *IDENT, "commit", "-qm", "init")
    return root


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "store"


def run_turn(cp: Checkpoints, label: str, command: str) -> Checkpoint | None:
    cp.begin_turn(label)
    cp.before_change()
    sh(cp.root, command)
    return cp.end_turn()


def test_default_dir_honours_env(monkeypatch, tmp_path: Path):
    monkeypatch.setenv(CHECKPOINTS_DIR_ENV, str(tmp_path / "cps"))
    assert default_checkpoints_dir() == tmp_path / "cps"


def test_undo_restores_edits_creations_and_deletions_exactly(repo: Path, store: Path):
    start = tree_state(repo)
    cp = Checkpoints(repo, store)
    checkpoint = run_turn(cp, "fix add\nand more details", """
        sed -i.bak -e 's/a - b/a + b/' calc.py && rm calc.py.bak
        rm README.md
        echo new > new.txt
        mkdir -p pkg/sub && echo deep > pkg/sub/mod.py
        rm -r docs && echo "now a file" > docs
    """)
    assert checkpoint is not None and checkpoint.label == "fix add"
    assert set(checkpoint.files) == {"calc.py", "README.md", "new.txt", "pkg/sub/mod.py",
                                     "docs", "docs/guide.md"}
    result = cp.undo()
    assert tree_state(repo) == start
    assert set(result.restored) == {"calc.py", "README.md", "docs/guide.md"}
    assert set(result.deleted) == {"new.txt", "pkg/sub/mod.py", "docs"}
    assert result.overwritten_later_edits == () and result.skipped == ()


def test_repeated_undo_walks_back_three_turns(repo: Path, store: Path):
    cp = Checkpoints(repo, store)
    states = [tree_state(repo)]
    for n in range(3):
        run_turn(cp, f"turn {n}", f"echo {n} >> calc.py && echo {n} > file{n}.txt")
        states.append(tree_state(repo))
    for expected in reversed(states[:-1]):
        cp.undo()
        assert tree_state(repo) == expected
    with pytest.raises(CheckpointError, match="nothing to undo"):
        cp.undo()


def test_list_is_newest_first_with_undone_flags(repo: Path, store: Path):
    cp = Checkpoints(repo, store)
    assert cp.list() == []
    for n in range(3):
        run_turn(cp, f"turn {n}", f"echo {n} > f{n}.txt")
    cp.undo()
    listed = cp.list()
    assert [c.label for c in listed] == ["turn 2", "turn 1", "turn 0"]
    assert [c.undone for c in listed] == [True, False, False]
    assert [c.files for c in listed] == [("f2.txt",), ("f1.txt",), ("f0.txt",)]
    assert listed[0].created.tzinfo is not None and listed[0].id != listed[1].id


def test_turn_that_changes_nothing_leaves_no_checkpoint(repo: Path, store: Path):
    cp = Checkpoints(repo, store)
    assert run_turn(cp, "look around", "ls > /dev/null") is None
    cp.begin_turn("only reads")
    assert cp.end_turn() is None  # before_change never called: no snapshot at all
    assert cp.list() == []
    with pytest.raises(CheckpointError, match=r"nothing to undo in .*work space"):
        cp.undo()


def test_undo_after_a_crash_without_after_snapshot(repo: Path, store: Path):
    start = tree_state(repo)
    crashed = Checkpoints(repo, store)
    crashed.begin_turn("killed midway")
    crashed.before_change()
    sh(repo, "echo broken >> calc.py && echo half > half.txt && rm docs/guide.md")
    # The process dies here: no end_turn. A new process finds the turn and undoes it.
    fresh = Checkpoints(repo, store)
    [listed] = fresh.list()
    assert listed.label == "killed midway" and listed.files == ()
    result = fresh.undo()
    assert tree_state(repo) == start
    assert set(result.checkpoint.files) == {"calc.py", "half.txt", "docs/guide.md"}


def test_a_turn_never_ended_is_closed_by_the_next_one(repo: Path, store: Path):
    cp = Checkpoints(repo, store)
    cp.begin_turn("forgot to end")
    cp.before_change()
    sh(repo, "echo a > a.txt")
    run_turn(cp, "next", "echo b > b.txt")
    assert [(c.label, c.files) for c in cp.list()] == [("next", ("b.txt",)), ("forgot to end", ("a.txt",))]


def test_unfinished_turn_that_changed_nothing_is_skipped_by_undo(repo: Path, store: Path):
    cp = Checkpoints(repo, store)
    run_turn(cp, "real change", "echo real > real.txt")
    cp.begin_turn("killed before its first edit")
    cp.before_change()
    result = Checkpoints(repo, store).undo()
    assert result.checkpoint.label == "real change" and result.deleted == ("real.txt",)


def test_unfinished_turn_ends_at_the_next_snapshot(repo: Path, store: Path):
    """A killed turn's changes are bounded by the next turn's before-snapshot, not by now."""
    crashed = Checkpoints(repo, store)
    crashed.begin_turn("killed")
    crashed.before_change()
    sh(repo, "echo crash > crashed.txt")
    later = Checkpoints(repo, store)
    run_turn(later, "next turn", "echo next > next.txt")
    sh(repo, "echo mine > user-notes.txt")  # the user's own file, after both turns
    later.undo()
    result = later.undo()
    assert result.checkpoint.files == ("crashed.txt",)
    assert (repo / "user-notes.txt").read_text() == "mine\n"
    assert not (repo / "crashed.txt").exists() and not (repo / "next.txt").exists()


def test_user_index_stash_head_and_branches_survive(repo: Path, store: Path):
    (repo / "README.md").write_text("# calc, staged by the user\n")
    git(repo, "add", "README.md")
    (repo / "calc.py").write_text("stashed work\n")
    git(repo, *IDENT, "stash", "push", "-q", "--", "calc.py")
    git(repo, "branch", "feature")
    staged_before = git(repo, "diff", "--cached", "--", "README.md")
    index_before = git(repo, "diff", "--cached", "--name-status")
    stash_before = git(repo, "stash", "list")
    head_before = git(repo, "rev-parse", "HEAD")
    branches_before = git(repo, "branch", "--list")
    start = tree_state(repo)

    cp = Checkpoints(repo, store)
    run_turn(cp, "rename", "git mv docs/guide.md docs/manual.md && sed -i.bak -e 's/a - b/a * b/' "
                           "calc.py && rm calc.py.bak && echo x > extra.txt")
    assert git(repo, "diff", "--cached", "--name-status") != index_before  # the rename is staged
    dot_git = dot_git_fingerprint(repo)
    cp.undo()

    now = dot_git_fingerprint(repo)
    changed = {k for k in now.keys() | dot_git.keys() if now.get(k) != dot_git.get(k)}
    assert changed <= {".git/index", ".git/"}  # undo writes nothing there but the index
    assert tree_state(repo) == start
    assert git(repo, "diff", "--cached", "--", "README.md") == staged_before
    assert git(repo, "stash", "list") == stash_before
    assert git(repo, "stash", "show", "-p", "stash@{0}") != ""
    assert git(repo, "rev-parse", "HEAD") == head_before
    assert git(repo, "branch", "--list") == branches_before
    # What the agent staged (the git mv) is unstaged again; the user's own staging stays.
    assert git(repo, "diff", "--cached", "--name-status") == index_before


@pytest.mark.parametrize("command", [
    "true",
    "git branch feature",
    "git branch feature && git pack-refs --all",
    "git branch -D old",  # packed only: just packed-refs changes
    "git tag -d old-tag",
    "git tag -a v1 -m v1 && git pack-refs --all && git tag -d v1 && git tag v1 HEAD",
    "echo x > new.txt && git add new.txt",
    "echo x > new.txt && git add new.txt && git reset -q",
    "echo y >> README.md && git commit -qam more && git reset -q --soft HEAD~1",
    "git symbolic-ref refs/heads/alias refs/heads/main && echo z >> calc.py && git commit -qam z",
    "echo w > calc.py && git stash push -q",
])
def test_cached_index_and_refs_follow_every_change(repo: Path, store: Path, command: str):
    """The index and refs are listed again only when their files changed: each way git
    changes them still shows in the state, as a listing from scratch would."""
    git(repo, "branch", "old")
    git(repo, "tag", "old-tag")
    git(repo, "pack-refs", "--all")
    user = find_user_repo(repo)
    reads = GitReads()
    read_state(user, reads)
    sh(repo, f"export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@t GIT_COMMITTER_NAME=t "
             f"GIT_COMMITTER_EMAIL=t@t; {command}")
    assert read_state(user, reads) == read_state(user)


def test_snapshots_and_undo_do_not_touch_dot_git(repo: Path, store: Path):
    git(repo, "status")  # let git refresh its index now, not between the fingerprints
    before = dot_git_fingerprint(repo)
    start = tree_state(repo)
    cp = Checkpoints(repo, store)
    cp.begin_turn("edit")
    cp.before_change()
    (repo / "calc.py").write_text("edited by a tool\n")
    (repo / "added.py").write_text("x = 1\n")
    cp.end_turn()
    cp.list()
    cp.undo()
    assert dot_git_fingerprint(repo) == before
    assert tree_state(repo) == start
    assert not any(p.name.startswith("gemma") for p in (repo / ".git").rglob("*"))


def test_ignored_files_are_neither_snapshotted_nor_deleted(repo: Path, store: Path):
    (repo / ".git" / "info").mkdir(exist_ok=True)
    (repo / ".git" / "info" / "exclude").write_text("secret.env\n")
    (repo / "old.log").write_text("before\n")
    cp = Checkpoints(repo, store)
    run_turn(cp, "build", "mkdir -p build && echo obj > build/out.o && echo after > old.log "
                          "&& echo token > secret.env && echo tracked > kept.txt")
    snapshot_files = subprocess.run(
        ["git", f"--git-dir={cp.git_dir}", "ls-tree", "-r", "--name-only", "refs/heads/checkpoints"],
        check=True, capture_output=True, text=True, env=clean_env()).stdout.split()
    assert "kept.txt" in snapshot_files
    assert not {"build/out.o", "old.log", "secret.env"} & set(snapshot_files)
    result = cp.undo()
    assert result.deleted == ("kept.txt",)
    assert (repo / "build" / "out.o").read_text() == "obj\n"
    assert (repo / "old.log").read_text() == "after\n"  # not covered: ignored files stay as they are
    assert (repo / "secret.env").read_text() == "token\n"


def test_nested_git_repository_is_not_content(repo: Path, store: Path):
    cp = Checkpoints(repo, store)
    checkpoint = run_turn(cp, "vendor a repo", "git init -q vendored && echo v > vendored/file.txt "
                                               "&& echo own > own.txt")
    assert checkpoint.files == ("own.txt",)
    cp.undo()
    assert (repo / "vendored" / "file.txt").read_text() == "v\n"
    assert not (repo / "own.txt").exists()


def test_workspace_that_is_not_a_git_repository(tmp_path: Path, store: Path):
    root = tmp_path / "plain"
    root.mkdir()
    cp = Checkpoints(root, store)
    run_turn(cp, "create in empty folder", "echo one > one.txt && mkdir d && echo two > d/two.txt")
    run_turn(cp, "edit", "echo more >> one.txt && rm d/two.txt")
    cp.undo()
    assert tree_state(root) == {"one.txt": ("file", b"one\n", False), "d": ("dir",),
                                "d/two.txt": ("file", b"two\n", False)}
    result = cp.undo()
    assert tree_state(root) == {}  # empty again; the root itself stays
    assert set(result.deleted) == {"one.txt", "d/two.txt"}
    assert root.is_dir()
    assert cp.commit_turn(dataclasses.replace(result.checkpoint, undone=False)) is None  # no repo


def test_binary_exec_bit_symlinks_and_odd_names(repo: Path, store: Path):
    blob = bytes(range(256)) * 64 + b"\0\r\n\r\n"
    (repo / "image.bin").write_bytes(blob)
    (repo / "run.sh").write_text("#!/bin/sh\necho hi\n")
    (repo / "run.sh").chmod(0o755)
    (repo / "plain.txt").write_text("crlf\r\nline\r\n")
    os.symlink("calc.py", repo / "link")
    (repo / "spaced name ünïcode [x]*.txt").write_text("odd\n")
    start = tree_state(repo)
    cp = Checkpoints(repo, store)
    run_turn(cp, "mess", """
        head -c 5000 /dev/urandom > image.bin
        chmod -x run.sh && chmod +x plain.txt
        ln -sfn README.md link
        echo changed > 'spaced name ünïcode [x]*.txt'
        printf 'bin\\0ary' > 'new file ✓.dat' && chmod +x 'new file ✓.dat'
    """)
    result = cp.undo()
    assert tree_state(repo) == start
    assert "new file ✓.dat" in result.deleted


def test_crlf_filters_and_inherited_git_variables_change_nothing(repo: Path, store: Path, tmp_path: Path,
                                                                 monkeypatch):
    """The user's global config and a parent git's environment must not reach the shadow repo."""
    global_config = tmp_path / "gitconfig"
    global_config.write_text("[core]\n\tautocrlf = true\n[filter \"upper\"]\n"
                             "\tclean = tr a-z A-Z\n\tsmudge = cat\n\trequired = true\n")
    (repo / ".gitattributes").write_text("*.dat filter=upper\n*.txt text eol=crlf\n")
    (repo / "data.dat").write_text("lower case\n")
    (repo / "unix.txt").write_bytes(b"lf only\n")
    start = tree_state(repo)
    dot_git = dot_git_fingerprint(repo)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(global_config))
    monkeypatch.setenv("GIT_DIR", str(repo / ".git"))
    monkeypatch.setenv("GIT_WORK_TREE", str(repo))
    monkeypatch.setenv("GIT_INDEX_FILE", str(repo / ".git" / "index"))
    monkeypatch.setenv("GIT_OBJECT_DIRECTORY", str(repo / ".git" / "objects"))
    hide_txt = tmp_path / "hide-txt"
    hide_txt.write_text("*.txt\n")  # as if a parent `git -c core.excludesFile=...` ran us
    monkeypatch.setenv("GIT_CONFIG_PARAMETERS", f"'core.excludesfile'='{hide_txt}'")
    cp = Checkpoints(repo, store)
    run_turn(cp, "touch data", "echo more >> data.dat && echo more >> unix.txt")
    cp.undo()
    assert tree_state(repo) == start
    assert dot_git_fingerprint(repo) == dot_git


def test_later_user_edit_is_reported_and_kept_in_safety_snapshot(repo: Path, store: Path):
    cp = Checkpoints(repo, store)
    run_turn(cp, "agent edit", "echo agent >> calc.py && echo agent > notes.txt")
    (repo / "calc.py").write_text("the user's own later version\n")
    result = cp.undo()
    assert result.overwritten_later_edits == ("calc.py",)
    assert (repo / "calc.py").read_text() == "def add(a, b):\n    return a - b\n"
    assert cp.file_at(result.safety_snapshot, "calc.py") == b"the user's own later version\n"
    assert cp.file_at(result.safety_snapshot, "notes.txt") == b"agent\n"
    assert cp.file_at(result.safety_snapshot, "missing.txt") is None


def test_second_instance_shares_history(repo: Path, store: Path):
    first = Checkpoints(repo, store)
    run_turn(first, "from the first process", "echo 1 > one.txt")
    second = Checkpoints(repo, store)
    assert [c.label for c in second.list()] == ["from the first process"]
    second.undo()
    assert not (repo / "one.txt").exists()
    assert first.list()[0].undone
    with pytest.raises(CheckpointError):
        first.undo()


def test_store_inside_workspace_is_not_snapshotted(repo: Path):
    cp = Checkpoints(repo, repo / ".cache" / "checkpoints")
    checkpoint = run_turn(cp, "edit", "echo x > x.txt")
    assert checkpoint.files == ("x.txt",)
    cp.undo()
    assert (repo / ".cache" / "checkpoints").is_dir()


def test_busy_lock_gives_a_clear_error(repo: Path, store: Path):
    cp = Checkpoints(repo, store, lock_timeout=0.3)
    cp.list()  # creates the shadow repository and its lock file
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import fcntl, sys, time
        fd = open({str(cp.git_dir / "gemma-code.lock")!r}, "a")
        fcntl.flock(fd, fcntl.LOCK_EX)
        print("locked", flush=True)
        time.sleep(30)
    """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(CheckpointError, match="another gemma-code process"):
            cp.begin_turn("x")
            cp.before_change()
    finally:
        holder.kill()
        holder.wait()
    cp.before_change()  # the same turn can snapshot once the lock is free
    assert cp.end_turn() is None


def test_stale_git_lock_is_removed(repo: Path, store: Path):
    cp = Checkpoints(repo, store)
    run_turn(cp, "first", "echo 1 > one.txt")
    (cp.git_dir / "index.lock").write_bytes(b"")  # as a killed `git add` leaves it
    run_turn(cp, "second", "echo 2 > two.txt")
    assert not (cp.git_dir / "index.lock").exists()
    cp.undo()
    assert not (repo / "two.txt").exists()


CHILD = """
import sys
from pathlib import Path
from gemma_code.agent.checkpoints.store import Checkpoints
cp = Checkpoints(Path(sys.argv[1]), Path(sys.argv[2]))
cp.begin_turn("killed during the snapshot")
cp.before_change()
print("done", flush=True)
"""


@pytest.mark.parametrize("kill_group", [True, False], ids=["python-and-git", "python-only"])
def test_sigkill_during_snapshot_of_a_large_tree(tmp_path: Path, store: Path, kill_group: bool):
    root = tmp_path / "big"
    for d in range(100):
        (root / f"d{d}").mkdir(parents=True)
        for f in range(250):
            (root / f"d{d}" / f"f{f}.txt").write_text(f"{d} {f}\n" * 20)
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(root), str(store)],
                             start_new_session=True, stdout=subprocess.PIPE, env=clean_env())
    git_dir = Checkpoints(root, store).git_dir
    deadline = time.monotonic() + 60
    while not (git_dir / "index.lock").exists() and child.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.001)
    assert child.poll() is None, "the snapshot finished before the test could kill it"
    if kill_group:
        os.killpg(child.pid, signal.SIGKILL)  # git dies too and leaves its index.lock behind
        child.wait()
        time.sleep(0.2)
        assert (git_dir / "index.lock").exists()
    else:
        os.kill(child.pid, signal.SIGKILL)  # git lives on, orphaned, and finishes its work
        child.wait()
        # The orphan holds the lock it inherited: whoever gets the lock finds no live index.lock.
        lock = FileLock(git_dir / LOCK_NAME)
        lock.acquire(timeout=120)
        try:
            assert not (git_dir / "index.lock").exists()
        finally:
            lock.release()

    cp = Checkpoints(root, store, lock_timeout=120)
    before = (root / "d0" / "f0.txt").read_bytes()
    run_turn(cp, "after the crash", "echo changed > d0/f0.txt && rm d1/f1.txt && echo n > n.txt")
    assert not (git_dir / "index.lock").exists()
    cp.undo()
    assert (root / "d0" / "f0.txt").read_bytes() == before
    assert (root / "d1" / "f1.txt").exists() and not (root / "n.txt").exists()


def test_snapshot_time_for_5000_files(tmp_path: Path, store: Path):
    root = tmp_path / "many"
    for d in range(50):
        (root / f"pkg{d}").mkdir(parents=True)
        for f in range(100):
            (root / f"pkg{d}" / f"mod{f}.py").write_text(f"VALUE = {d * 100 + f}\n")
    cp = Checkpoints(root, store)
    cp.begin_turn("time it")
    started = time.perf_counter()
    cp.before_change()
    first = time.perf_counter() - started
    (root / "pkg0" / "mod0.py").write_text("VALUE = -1\n")
    started = time.perf_counter()
    checkpoint = cp.end_turn()
    second = time.perf_counter() - started
    print(f"\nsnapshot of 5,000 files: first {first:.3f}s, second {second:.3f}s")
    assert checkpoint.files == ("pkg0/mod0.py",)
    assert first < 30 and second < 10


# -- auto-commit -----------------------------------------------------------------------


def test_commit_turn_commits_only_the_turns_files(repo: Path, store: Path):
    git(repo, "config", "user.name", "Repo Owner")
    git(repo, "config", "user.email", "owner@example.com")
    (repo / "README.md").write_text("# calc, staged by the user\n")
    git(repo, "add", "README.md")
    cp = Checkpoints(repo, store)
    checkpoint = run_turn(cp, "Fix add() so that it adds and does not subtract, and add the tests for it",
                          "sed -i.bak -e 's/a - b/a + b/' calc.py && rm calc.py.bak && rm docs/guide.md "
                          "&& printf 'one\\ntwo\\n' > 'test calc.py' && echo log > run.log")
    sha = cp.commit_turn(checkpoint, "Changed the operator.")
    assert sha == git(repo, "rev-parse", "HEAD").strip()
    committed = git(repo, "show", "--name-status", "--format=", "HEAD").split("\n")
    assert sorted(filter(None, committed)) == ["A\ttest calc.py", "D\tdocs/guide.md", "M\tcalc.py"]
    message = git(repo, "log", "-1", "--format=%B")
    subject, blank, body, *rest = message.split("\n")
    assert subject.startswith("gemma-code: Fix add() so that it adds") and len(subject) <= 12 + 60
    assert blank == "" and body == "Changed the operator."
    assert "Files:" in message and "calc.py (+1 -1)" in message and "test calc.py (+2 -0)" in message
    assert git(repo, "log", "-1", "--format=%an <%ae>").strip() == "Repo Owner <owner@example.com>"
    # The user's own staged change is still staged, and still not committed.
    assert git(repo, "diff", "--cached", "--name-only").split() == ["README.md"]
    assert (repo / "run.log").exists() and "run.log" not in git(repo, "ls-files")


def test_commit_turn_without_identity_uses_a_fallback(repo: Path, store: Path, tmp_path: Path,
                                                      monkeypatch):
    empty = tmp_path / "empty-gitconfig"
    empty.write_text("")
    for name in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "EMAIL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(empty))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    cp = Checkpoints(repo, store)
    checkpoint = run_turn(cp, "add a file", "echo hi > hi.txt")
    assert cp.commit_turn(checkpoint) is not None
    assert git(repo, "log", "-1", "--format=%an <%ae>").strip() == "gemma-code <gemma-code@localhost>"
    assert "user" not in git(repo, "config", "--local", "--list")


def test_commit_turn_runs_no_hooks(repo: Path, store: Path, tmp_path: Path):
    """A hook (or what it reads) may have been written by the agent: auto-commit runs none."""
    ran = tmp_path / "hook-ran"
    for name in ("pre-commit", "commit-msg", "post-commit", "reference-transaction"):
        hook = repo / ".git" / "hooks" / name
        hook.write_text(f"#!/bin/sh\necho {name} >> '{ran}'\nexit 1\n")
        hook.chmod(0o755)
    cp = Checkpoints(repo, store)
    checkpoint = run_turn(cp, "edit", "echo x >> calc.py")
    assert cp.commit_turn(checkpoint) is not None
    assert not ran.exists()


def test_commit_turn_failure_leaves_the_index_alone(repo: Path, store: Path):
    git(repo, "config", "commit.gpgSign", "true")
    git(repo, "config", "gpg.program", "false")  # signing fails, so the commit does
    cp = Checkpoints(repo, store)
    checkpoint = run_turn(cp, "edit", "echo new > brand-new.txt && echo x >> calc.py")
    index_before = git(repo, "ls-files", "--stage")
    with pytest.raises(CheckpointError, match="gpg failed"):
        cp.commit_turn(checkpoint)
    assert git(repo, "ls-files", "--stage") == index_before
    assert (repo / "brand-new.txt").read_text() == "new\n"


def test_commit_turn_with_nothing_left_or_undone(repo: Path, store: Path):
    cp = Checkpoints(repo, store)
    checkpoint = run_turn(cp, "edit", "echo x >> calc.py")
    git(repo, "checkout", "--", "calc.py")  # the user threw the change away
    assert cp.commit_turn(checkpoint) is None
    checkpoint = run_turn(cp, "again", "echo y >> calc.py")
    cp.undo()
    with pytest.raises(CheckpointError, match="undone"):
        cp.commit_turn(cp.list()[0])


def test_commit_turn_from_a_workspace_inside_the_repository(repo: Path, store: Path):
    cp = Checkpoints(repo / "docs", store)
    checkpoint = run_turn(cp, "write docs", "echo more >> guide.md && echo new > faq.md")
    assert set(checkpoint.files) == {"guide.md", "faq.md"}
    assert cp.commit_turn(checkpoint) is not None
    assert git(repo, "show", "--name-only", "--format=", "HEAD").split() == ["docs/faq.md", "docs/guide.md"]
