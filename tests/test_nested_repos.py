"""Git repositories that a turn made inside the workspace are pointed out once, at its end.

A script (which no rule can read) makes a repository below the workspace's top, a `.git`
file, a hook in a repository the person had, or a submodule entry in the index. gemma-code's
own git never runs there, but the person's would: the turn ends with one notice naming the
paths. Real repositories, the real sandboxed shell, the scripted model.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from gemma_code.agent.approval import DenyApprover
from gemma_code.agent.checkpoints.nested_repos import git_entries
from gemma_code.agent.config import Settings
from gemma_code.agent.events import Notice
from gemma_code.agent.messages import UserMessage
from gemma_code.agent.session import Session
from gemma_code.backends.scripted import ScriptedBackend
from gemma_code.tools.sandbox import detect_sandbox

from .conftest import git, run_cli, write_script
from .test_git_trust import Scene, events, python, shell, write

pytestmark = pytest.mark.skipif(
    detect_sandbox() is None,
    reason="no usable shell sandbox here (install bubblewrap); CI installs it",
)

WARNING = "can run programs on this machine"
NESTED_FSMONITOR = (
    "import subprocess\n"
    "subprocess.run(['git', 'init', '-q', 'sub'], check=True)\n"
    "subprocess.run(['git', '-C', 'sub', 'config', 'core.fsmonitor', PAYLOAD], check=True)\n"
)


@pytest.fixture
def scene(tmp_path: Path, isolated_env) -> Scene:
    return Scene(tmp_path, isolated_env)


def warnings(said: str) -> list[str]:
    """The texts of the nested-repository notices in a `--json` run's output."""
    return [e["text"] for e in events(said, "notice") if WARNING in e["text"]]


def planted(scene: Scene, code: str) -> list[dict]:
    return python(f"PAYLOAD = {scene.payload!r}\nHOOK = {scene.hook!r}\n" + code)


def test_a_repository_a_script_made_is_named_once(scene: Scene):
    said = scene.agent(*planted(scene, NESTED_FSMONITOR))
    found = warnings(said)
    assert len(found) == 1
    assert "sub/.git" in found[0] and "core.fsmonitor" in found[0] and "rm -rf sub/.git" in found[0]
    assert (scene.root / "sub" / ".git").is_dir() and not scene.marker.exists()


def test_a_git_file_a_script_wrote_is_named(scene: Scene):
    evil = scene.root / "fixtures" / "evilgit"
    git(scene.tmp, "init", "-q", "--bare", str(evil))
    code = ("import os\nos.makedirs('lib', exist_ok=True)\n"
            "open('lib/.git', 'w').write('gitdir: ../fixtures/evilgit\\n')\n")
    said = scene.agent(*planted(scene, code))
    found = warnings(said)
    assert len(found) == 1 and "lib/.git" in found[0] and not scene.marker.exists()


def test_a_repository_the_person_had_is_not_named(scene: Scene):
    (scene.root / "vendor").mkdir()
    (scene.root / "vendor" / "lib.py").write_text("x = 1\n")
    scene.init(scene.root / "vendor")  # theirs, before the session
    said = scene.agent(write("vendor/extra.py", "x = 1\n"), shell("git -C vendor status --short"))
    assert warnings(said) == []


def test_a_hook_planted_in_a_repository_the_person_had_is_named(scene: Scene):
    (scene.root / "vendor").mkdir()
    (scene.root / "vendor" / "lib.py").write_text("x = 1\n")
    scene.init(scene.root / "vendor")
    code = ("import os\nopen('vendor/.git/hooks/pre-commit', 'w').write(HOOK)\n"
            "os.chmod('vendor/.git/hooks/pre-commit', 0o755)\n")
    said = scene.agent(*planted(scene, code))
    found = warnings(said)
    assert len(found) == 1 and "vendor/.git" in found[0] and "changed during this turn" in found[0]


def test_a_gitlink_a_script_staged_is_named(scene: Scene):
    head = git(scene.root, "rev-parse", "HEAD").strip()
    code = ("import subprocess\nsubprocess.run(['git', 'update-index', '--add', '--cacheinfo', "
            f"'160000,{head},third_party/lib'], check=True)\n")
    said = scene.agent(*planted(scene, code))
    assert "160000" in git(scene.root, "ls-files", "--stage", "third_party/lib")
    found = [e["text"] for e in events(said, "notice") if "gitlinks" in e["text"]]
    assert len(found) == 1 and "third_party/lib" in found[0] and ".gitmodules" in found[0]


def test_a_fifo_planted_as_git_does_not_hang_the_turn(scene: Scene):
    code = "import os\nos.makedirs('sub')\nos.mkfifo('sub/.git')\n"
    said = scene.agent(*planted(scene, code), write("more.py", "x = 1\n"))
    found = warnings(said)
    assert len(found) == 1 and "sub/.git" in found[0]


def test_a_fifo_planted_as_git_at_the_top_does_not_hang_the_session(tmp_path: Path,
                                                                     isolated_env):
    """git's lookup reads a `.git` file: a FIFO there would block it (and gemma-code) for good."""
    bare = Scene(tmp_path, isolated_env, repo=False)
    steps = [{"tool_calls": [call]} for call in planted(bare, "import os\nos.mkfifo('.git')\n")]
    script = write_script(tmp_path / "fifo.json", [*steps, {"text": "done"}])
    proc = run_cli(["run", "--backend", "scripted", "--model", str(script), "--approval", "auto",
                    "--json", "go"], bare.root, bare.env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert (bare.root / ".git").is_fifo()


def test_later_turns_do_not_repeat_it(scene: Scene):
    """In one session: the repository is named after the turn that made it, and not after
    the next turns, even when they run the same script again (`git init` again changes
    nothing that could run code)."""
    calls = planted(scene, NESTED_FSMONITOR)
    steps = [{"tool_calls": [call]} for call in calls] + [{"text": "made it"}]
    steps += [{"tool_calls": [calls[1]]}, {"tool_calls": [write("more.py", "x = 1\n")]},
              {"text": "again"}]
    backend = ScriptedBackend.from_turns(steps)
    settings = Settings(model="scripted", approval="auto", verify="off")
    session = Session(settings, backend, scene.root, DenyApprover(), cancel=threading.Event())
    said = [[e.text for e in session.run(UserMessage.of(prompt))
             if isinstance(e, Notice) and WARNING in e.text] for prompt in ("make it", "again")]
    assert [len(turn) for turn in said] == [1, 0]
    assert "sub/.git" in said[0][0]
    assert (scene.root / "more.py").exists() and not scene.marker.exists()


def test_the_walk_skips_heavy_folders_links_and_git_internals(tmp_path: Path):
    root = tmp_path / "work"
    for folder in ("a/b/.git/modules/x/.git", "node_modules/pkg/.git", "c/.git"):
        (root / folder).mkdir(parents=True)
    (root / ".git").mkdir()
    (root / "d").mkdir()
    (root / "d" / ".git").write_text("gitdir: nowhere\n")
    os.symlink(root / "a", root / "link")
    assert sorted(git_entries(root)) == ["a/b/.git", "c/.git", "d/.git"]
