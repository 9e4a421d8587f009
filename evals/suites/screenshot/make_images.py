"""Regenerates every screenshot task's shot.png from the task's own repo/.

    .venv/bin/python evals/suites/screenshot/make_images.py [TASK ...]

Terminal tasks: the task's repo/ is copied to a temporary folder, its command runs there for
real (stdout and stderr together), and the output is drawn under a `$ command` prompt line as
a dark terminal window in a monospaced font. The temporary folder's path is shown as
/home/dev/<project>, and the standard library's as /usr/lib/, so the images do not depend on
where this script runs.

Browser tasks: the command generates an HTML page in the temporary copy and headless Chromium
screenshots it at 900x600. The PNGs are kept in the suite, so running the suite needs no
Chromium; without one installed, this script leaves those images as they are.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

SUITE = Path(__file__).resolve().parent
FONT_SIZE = 16
MAX_BYTES = 150_000
BACKGROUND = (30, 32, 38)
FOREGROUND = (220, 223, 228)
PROMPT_COLOUR = (120, 200, 120)


@dataclass(frozen=True)
class Terminal:
    project: str  # the folder name the output pretends to come from
    command: tuple[str, ...] = ("python", "main.py")


@dataclass(frozen=True)
class Browser:
    project: str
    command: tuple[str, ...]
    page: str  # the HTML file the command writes, relative to the repository


TASKS = {
    "ticket-date-format": Terminal("helpdesk-report"),
    "stock-csv-typeerror": Terminal("stockcount"),
    "gradebook-keyerror": Terminal("gradebook"),
    "access-log-attributeerror": Terminal("weblog"),
    "expenses-table-misaligned": Terminal("budget"),
    "invoice-total-wrong": Terminal("invoicing"),
    "issues-report-unescaped": Browser("issues", ("python", "make_report.py"), "build/report.html"),
    "sprint-dashboard-bars": Browser("sprint", ("python", "make_dashboard.py"), "build/dashboard.html"),
}


def monospace_font(size: int = FONT_SIZE) -> ImageFont.ImageFont:
    for path in sorted(glob.glob("/usr/share/fonts/**/DejaVuSansMono.ttf", recursive=True)):
        return ImageFont.truetype(path, size)
    try:
        return ImageFont.truetype("DejaVuSansMono.ttf", size)
    except OSError:
        return ImageFont.load_default(size=size)


def run_in_copy(task: str, project: str, command: tuple[str, ...]) -> tuple[Path, str]:
    """Copies the task's repo/ to a temporary `project` folder and runs `command` there."""
    root = Path(tempfile.mkdtemp(prefix="shot-"))
    work = root / project
    shutil.copytree(SUITE / task / "repo", work)
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", PYTHONIOENCODING="utf-8", COLUMNS="100")
    argv = [sys.executable if command[0] == "python" else command[0], *command[1:]]
    done = subprocess.run(argv, cwd=work, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=60)
    output = done.stdout.replace(str(work), f"/home/dev/{project}")
    # the standard library as a system Python has it, whichever Python runs this script
    output = output.replace(f"{sys.base_prefix}/lib/", "/usr/lib/")
    return work, output


def terminal_png(text: str, path: Path) -> None:
    font = monospace_font()
    lines = text.rstrip("\n").split("\n")
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    line_height = FONT_SIZE + 6
    width = max(int(probe.textlength(line, font=font)) for line in lines)
    pad = 20
    image = Image.new("RGB", (width + 2 * pad, line_height * len(lines) + 2 * pad - 6), BACKGROUND)
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        colour = PROMPT_COLOUR if i == 0 else FOREGROUND
        draw.text((pad, pad + i * line_height), line, font=font, fill=colour)
    save_small(image, path)


def save_small(image: Image.Image, path: Path) -> None:
    image.save(path, optimize=True)
    if path.stat().st_size > MAX_BYTES:
        image.convert("RGB").quantize(colors=64).save(path, optimize=True)


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def browser_png(page: Path, path: Path) -> bool:
    browser = chromium()
    if browser is None:
        print(f"  no chromium found: {path} left as it is", file=sys.stderr)
        return False
    with tempfile.TemporaryDirectory(prefix="shot-profile-") as profile:
        raw = Path(profile) / "raw.png"
        subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             f"--user-data-dir={profile}", f"--screenshot={raw}", "--window-size=900,600",
             page.as_uri()],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120,
        )
        with Image.open(raw) as image:
            save_small(image.convert("RGB"), path)
    return True


def make(task: str) -> None:
    spec = TASKS[task]
    out = SUITE / task / "shot.png"
    work, output = run_in_copy(task, spec.project, spec.command)
    try:
        if isinstance(spec, Terminal):
            terminal_png(f"$ {' '.join(spec.command)}\n{output}", out)
        elif not browser_png(work / spec.page, out):
            return
    finally:
        shutil.rmtree(work.parent, ignore_errors=True)
    print(f"{out.relative_to(SUITE)}: {out.stat().st_size} bytes")


def main(argv: list[str]) -> int:
    names = argv or list(TASKS)
    unknown = [name for name in names if name not in TASKS]
    if unknown:
        print(f"unknown task(s): {', '.join(unknown)}", file=sys.stderr)
        return 2
    for name in names:
        make(name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
