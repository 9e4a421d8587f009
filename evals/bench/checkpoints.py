"""What a checkpoint costs per turn on a 5,000-file repository, git state included.

A repository of 50 folders x 100 files with four commits, branches, tags and a stash; each
turn takes its before snapshot, changes something the way an agent would, and takes its
after snapshot. Only the two snapshots are timed (not the change itself). Turn kinds:

  edit     one file written
  stage    one file written and `git add`ed (the index changes)
  commit   one file written and committed (a branch moves: new objects are copied)

    .venv/bin/python -m evals.bench.checkpoints [--turns 12] [--files 5000]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from evals.bench import heading, table
from gemma_code.agent.checkpoints.store import Checkpoints

KINDS = ("edit", "stage", "commit")


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=bench", "-c", "user.email=bench@example.com", *args],
                   cwd=root, check=True, capture_output=True)


def make_repo(root: Path, files: int) -> None:
    per_folder = 100
    for n in range(files):
        folder = root / f"pkg{n // per_folder}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"mod{n % per_folder}.py").write_text(f"VALUE = {n}\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", ".")
    git(root, "commit", "-qm", "initial")
    for n in range(3):
        (root / "pkg0" / "mod0.py").write_text(f"VALUE = 'change {n}'\n")
        git(root, "commit", "-qam", f"change {n}")
    git(root, "branch", "feature", "HEAD~1")
    git(root, "tag", "-a", "v1", "-m", "release", "HEAD~2")
    (root / "pkg1" / "mod1.py").write_text("stashed\n")
    git(root, "stash", "push", "-q")


def turn(cp: Checkpoints, root: Path, n: int, kind: str) -> float:
    """One turn of `kind`; the seconds its two snapshots took."""
    cp.begin_turn(f"turn {n}")
    started = time.perf_counter()
    cp.before_change()
    spent = time.perf_counter() - started
    path = root / f"pkg{2 + n % 40}" / "mod7.py"
    path.write_text(f"VALUE = 'turn {n}'\n")
    if kind == "stage":
        git(root, "add", str(path))
    elif kind == "commit":
        git(root, "commit", "-qam", f"turn {n}")
    started = time.perf_counter()
    cp.end_turn()
    return spent + time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=12, help="turns after the first (default: %(default)s)")
    parser.add_argument("--files", type=int, default=5000, help="files in the repository (default: %(default)s)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gemma-code-bench-") as tmp:
        root, store = Path(tmp) / "repo", Path(tmp) / "checkpoints"
        make_repo(root, args.files)
        cp = Checkpoints(root, store)
        first = turn(cp, root, 0, "edit")
        times = {kind: [] for kind in KINDS}
        for n in range(1, args.turns + 1):
            kind = KINDS[n % len(KINDS)]
            times[kind].append(turn(cp, root, n, kind))
        started = time.perf_counter()
        cp.undo()
        undo = time.perf_counter() - started
    heading(f"checkpoint cost per turn, {args.files} files (both snapshots)")
    print(f"first turn: {first:.3f} s")
    later = [x for t in times.values() for x in t]
    rows = [(kind, len(t), _s(statistics.median(t)), _s(max(t)))
            for kind, t in [*times.items(), ("all later", later)] if t]
    print(table(["later turns", "n", "median", "max"], rows))
    print(f"undo of the last turn (a commit: branch, index and files put back): {undo:.3f} s")


def _s(seconds: float) -> str:
    return f"{seconds:.3f} s"


if __name__ == "__main__":
    main()
