"""Fixing a bug known only from a screenshot of its traceback.

Each task is a tiny repository whose `python main.py` fails. The script runs it for real,
renders the terminal (command and traceback) to a PNG kept OUTSIDE the repository, so the
traceback's text exists nowhere the agent can read but in the image, then runs

    gemma-code run --model M --approval auto --image shot.png "fix the bug shown in the screenshot"

and checks afterwards that `python main.py` prints what it should. With a text-only model the
image reaches it through OCR; the script also times OCR alone, warm, on the five images.

    .venv/bin/python -m evals.bench.screenshot_fix [--model qwen2.5-coder-1.5b] [--tasks a,b] [--as-text]

`--as-text` is the control: the same traceback pasted into the prompt as text, no image, to
tell what the image path costs from what the model cannot do anyway.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

PROMPT = "fix the bug shown in the screenshot"


@dataclass(frozen=True)
class Task:
    name: str
    files: dict[str, str]
    expected: str  # what `python main.py` prints once fixed


TASKS = [
    Task("name-typo", {
        "shop.py": "def cart_total(lines):\n    total = 0\n    for name, qty, price in lines:\n"
                   "        total += qty * price\n    return round(totl, 2)\n",
        "main.py": "from shop import cart_total\n\n"
                   "print(cart_total([('apple', 2, 0.5), ('pear', 1, 0.75)]))\n",
    }, "1.75"),
    Task("method-typo", {
        "tags.py": "def add_tag(tags, tag):\n    if tag not in tags:\n        tags.apend(tag)\n"
                   "    return tags\n",
        "main.py": "from tags import add_tag\n\nprint(add_tag(['bug'], 'ui'))\n",
    }, "['bug', 'ui']"),
    Task("str-plus-int", {
        "report.py": "def summary(count):\n    return 'Processed ' + count + ' files'\n",
        "main.py": "from report import summary\n\nprint(summary(3))\n",
    }, "Processed 3 files"),
    Task("key-typo", {
        "users.py": "USERS = [\n    {'name': 'Ada', 'email': 'ada@example.com'},\n"
                    "    {'name': 'Linus', 'email': 'linus@example.com'},\n]\n\n\n"
                    "def emails():\n    return [user['emial'] for user in USERS]\n",
        "main.py": "from users import emails\n\nprint(', '.join(emails()))\n",
    }, "ada@example.com, linus@example.com"),
    Task("index-off-by-one", {
        "stats.py": "def last_score(scores):\n    return scores[len(scores)]\n",
        "main.py": "from stats import last_score\n\nprint(last_score([3, 7, 9]))\n",
    }, "9"),
]


def terminal_png(text: str, path: Path) -> Path:
    """`text` drawn as a dark terminal window, in a monospaced font when one is installed."""
    from PIL import Image, ImageDraw, ImageFont

    try:
        font = ImageFont.truetype("DejaVuSansMono.ttf", 16)
    except OSError:
        font = ImageFont.load_default(size=16)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    _, _, right, bottom = probe.multiline_textbbox((0, 0), text, font=font, spacing=6)
    image = Image.new("RGB", (right + 40, bottom + 40), (24, 24, 28))
    ImageDraw.Draw(image).multiline_text((20, 20), text, font=font, fill=(225, 225, 225), spacing=6)
    image.save(path)
    return path


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=eval", "-c", "user.email=eval@example.invalid",
                    *args], cwd=repo, check=True, capture_output=True)


def prepare(task: Task, where: Path) -> tuple[Path, Path]:
    """The task's repository, committed, and a screenshot of its failing run (outside it)."""
    repo = where / task.name
    repo.mkdir(parents=True)
    for name, text in task.files.items():
        (repo / name).write_text(text)
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "task")
    failed = subprocess.run([sys.executable, "main.py"], cwd=repo, capture_output=True, text=True)
    assert failed.returncode != 0, f"{task.name}: main.py does not fail"
    screen = f"$ python main.py\n{failed.stderr.replace(str(repo) + '/', '')}".rstrip()
    (where / f"{task.name}.txt").write_text(screen)  # outside the repository, like the image
    return repo, terminal_png(screen, where / f"{task.name}.png")


def run_task(task: Task, where: Path, model: str, timeout: float, as_text: bool) -> dict:
    repo, shot = prepare(task, where)
    given = ["--image", str(shot), PROMPT]
    if as_text:
        traceback = (where / f"{task.name}.txt").read_text()
        given = [f"{PROMPT.replace('screenshot', 'terminal output')}:\n\n{traceback}"]
    started = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "gemma_code.agent.cli", "run", "--model", model,
             "--approval", "auto", "--temperature", "0", "--max-steps", "8", *given],
            cwd=repo, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
        )
        output, stderr = proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as exc:
        output, stderr = str(exc.stdout or ""), "timed out"
    seconds = time.perf_counter() - started
    check = subprocess.run([sys.executable, "main.py"], cwd=repo, capture_output=True,
                           text=True, timeout=60)
    ocr = re.search(r"read with OCR: \d+ lines in ([\d.]+) s", stderr)
    steps = re.search(r"\[(\d+) steps?", stderr)
    return {
        "task": task.name, "passed": check.returncode == 0 and check.stdout.strip() == task.expected,
        "seconds": seconds, "ocr_seconds": float(ocr.group(1)) if ocr else None,
        "steps": int(steps.group(1)) if steps else None, "transcript": output, "image": shot,
    }


def warm_ocr(images: list[Path]) -> list[float]:
    from gemma_code.agent.ocr import read_text

    read_text(images[0])  # load the engine once
    return [read_text(image).seconds for image in images]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="qwen2.5-coder-1.5b")
    parser.add_argument("--tasks", help="comma-separated task names (default: all)")
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--as-text", action="store_true",
                        help="give the traceback as text in the prompt instead of an image")
    args = parser.parse_args()
    chosen = [t for t in TASKS if not args.tasks or t.name in args.tasks.split(",")]
    where = Path(tempfile.mkdtemp(prefix="gemma-code-screenshot-fix-"))
    results = []
    for task in chosen:
        print(f"… {task.name}", file=sys.stderr, flush=True)
        result = run_task(task, where, args.model, args.timeout, args.as_text)
        print(f"  {'pass' if result['passed'] else 'FAIL'} in {result['seconds']:.0f} s",
              file=sys.stderr, flush=True)
        results.append(result)
    given = "traceback as text in the prompt" if args.as_text else "traceback as an image"
    print(f"\nmodel {args.model}, prompt {PROMPT!r}, {given}\n")
    print("| task | result | steps | seconds | OCR in the run (s, engine load included) |")
    print("| --- | --- | --- | --- | --- |")
    for r in results:
        ocr = f"{r['ocr_seconds']:.1f}" if r["ocr_seconds"] is not None else "-"
        print(f"| {r['task']} | {'pass' if r['passed'] else 'fail'} | {r['steps'] or '-'} "
              f"| {r['seconds']:.0f} | {ocr} |")
    passed = sum(r["passed"] for r in results)
    print(f"\npassed {passed} of {len(results)}")
    warm = warm_ocr([r["image"] for r in results])
    print(f"OCR alone, engine loaded: {', '.join(f'{s:.2f}' for s in warm)} s per image "
          f"(mean {sum(warm) / len(warm):.2f} s)")
    print(f"repositories and transcripts under {where}")
    for r in results:
        (where / f"{r['task']}.log").write_text(r["transcript"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
