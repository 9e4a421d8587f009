"""Speed and memory of the repo map on a generated repository (not a timed test).

Builds a repository of N small source files (Python, TypeScript, shell and plain text, with
references across files), then times the map cold (empty tag cache) and warm (cache filled,
nothing changed), and reports the peak memory of this process.

    .venv/bin/python -m evals.bench.repomap [--files 5000] [--tokens 1024]

Goal on 2 cores, 5,000 files: cold at most 10 s, warm at most 0.5 s, peak at most 300 MB.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def make_repo(root: Path, files: int) -> None:
    """`files` files in 100 packages; each Python module calls one in the module before it."""
    for i in range(files):
        folder = root / f"pkg{i % 100}"
        folder.mkdir(parents=True, exist_ok=True)
        kind = i % 10
        if kind < 7:
            body = (f"from pkg{(i - 1) % 100}.m{i - 1} import helper_{i - 1}\n\n\n"
                    f"class Model{i}:\n    def save(self, value):\n        return helper_{i - 1}(value)\n\n\n"
                    f"def helper_{i}(value):\n    return Model{i}().save(value)\n")
            (folder / f"m{i}.py").write_text(body)
        elif kind < 9:
            (folder / f"c{i}.ts").write_text(
                f"export interface Shape{i} {{ size: number }}\n"
                f"export function area{i}(s: Shape{i}): number {{ return s.size * 2 }}\n")
        else:
            (folder / f"notes{i}.txt").write_text("plain text, listed by path only\n")


def peak_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if os.uname().sysname == "Darwin" else peak / 1024


def timed_map(root: Path, tokens: int, prompt: str) -> tuple[float, str]:
    from gemma_code.agent.context.prepare import load_index, repo_map

    started = time.perf_counter()
    shown = repo_map(load_index(root), prompt, tokens, lambda text: len(text) // 4 + 1)
    return time.perf_counter() - started, shown


def disk_warm(root: Path, tokens: int, prompt: str) -> str:
    """The warm time in a new process: tags from the cache file, not from memory (the import
    of networkx and scipy, paid once per process, not counted)."""
    code = ("import sys; from pathlib import Path; from evals.bench.repomap import timed_map; "
            "import networkx, scipy.sparse; "
            f"print(f'{{timed_map(Path(sys.argv[1]), {tokens}, sys.argv[2])[0]:.2f}}')")
    done = subprocess.run([sys.executable, "-c", code, str(root), prompt], capture_output=True,
                          text=True, check=True)
    return done.stdout.strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--tokens", type=int, default=1024)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="gemma-code-bench-repomap-"))
    os.environ["GEMMA_CODE_CACHE_DIR"] = str(work / "cache")
    try:
        root = work / "repo"
        make_repo(root, args.files)
        before = peak_mb()
        cold, shown = timed_map(root, args.tokens, "helper_42 fails in pkg42/m42.py")
        warm, again = timed_map(root, args.tokens, "helper_42 fails in pkg42/m42.py")
        assert shown == again
        print(f"repo map, {args.files} files, {args.tokens} tokens, {os.cpu_count()} CPUs")
        print(f"  cold (empty tag cache): {cold:.2f} s")
        print(f"  warm (cache filled):    {warm:.2f} s")
        print(f"  warm, new process (tags from the cache file): "
              f"{disk_warm(root, args.tokens, 'helper_42 fails in pkg42/m42.py')} s")
        print(f"  peak memory: {peak_mb():.0f} MB (before the map: {before:.0f} MB)")
        print(f"  map: {len(shown.splitlines())} lines")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
