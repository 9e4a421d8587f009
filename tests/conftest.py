"""Shared fixtures: real git repositories in temporary directories, the CLI as a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository with a small Python package, a failing test and one commit."""
    root = tmp_path / "repo"
    root.mkdir()
    (root / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    (root / "test_calc.py").write_text(
        "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"
    )
    (root / ".gitignore").write_text("*.log\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "-c", "user.name=t", "-c", "user.email=t@t", "add", ".")
    git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    return root


@pytest.fixture(autouse=True)
def _checkpoints_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test writes checkpoints, images or trust into the user's data dir."""
    monkeypatch.setenv("GEMMA_CODE_CHECKPOINTS_DIR", str(tmp_path / "checkpoints"))
    monkeypatch.setenv("GEMMA_CODE_IMAGES_DIR", str(tmp_path / "images"))
    monkeypatch.setenv("GEMMA_CODE_TRUST_FILE", str(tmp_path / "trust" / "trusted-projects.json"))
    monkeypatch.setenv("GEMMA_CODE_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def isolated_env(tmp_path: Path) -> dict[str, str]:
    """Environment for CLI subprocesses: no user config, caches in tmp, no GEMMA_CODE_* leaks."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GEMMA_CODE_")}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    env["XDG_CACHE_HOME"] = os.environ.get("XDG_CACHE_HOME", str(Path.home() / ".cache"))
    env["HF_HUB_OFFLINE"] = "1"
    env["GEMMA_CODE_SESSIONS_DIR"] = str(tmp_path / "sessions")
    env["GEMMA_CODE_CHECKPOINTS_DIR"] = str(tmp_path / "checkpoints")
    env["GEMMA_CODE_IMAGES_DIR"] = str(tmp_path / "images")
    env["GEMMA_CODE_TRUST_FILE"] = str(tmp_path / "trust" / "trusted-projects.json")
    env["GEMMA_CODE_CACHE_DIR"] = str(tmp_path / "cache")
    return env


def run_cli(args: list[str], cwd: Path, env: dict[str, str], timeout: float = 600):
    """Run `gemma-code` as a real subprocess (the installed console script's module)."""
    return subprocess.run(
        [sys.executable, "-m", "gemma_code.agent.cli", *args], cwd=cwd, env=env,
        capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
    )


def marker_pids(marker: str, *, leading: bool = False) -> list[int]:
    """Live processes whose command line holds `marker` (`leading`: as argv[0])."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        argv0 = cmdline.split(b"\0", 1)[0]
        hit = argv0 == marker.encode() if leading else marker.encode() in cmdline
        if hit and state != "Z":
            found.append(int(entry.name))
    return found


def drain(run):
    """Run a generator to its end: the events it yielded, and the value it returned."""
    events = []
    try:
        while True:
            events.append(next(run))
    except StopIteration as stop:
        return events, stop.value


class Yes:
    """An approver that says yes to everything and notes which tools asked."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def decide(self, request):
        from gemma_code.agent.protocols import ApprovalDecision

        self.asked.append(request.tool)
        return ApprovalDecision(approved=True)


def write_script(path: Path, turns: list[dict]) -> Path:
    path.write_text(json.dumps({"turns": turns, "chunk_size": 5}))
    return path


def text_png(path: Path, text: str, *, dark: bool = True, size: int = 18) -> Path:
    """A PNG of `text` as a terminal or page would show it (Pillow's built-in font)."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=size)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    left, top, right, bottom = probe.multiline_textbbox((0, 0), text, font=font, spacing=8)
    image = Image.new("RGB", (right + 32, bottom + 32), (30, 30, 30) if dark else "white")
    ImageDraw.Draw(image).multiline_text(
        (16, 16), text, font=font, fill=(230, 230, 230) if dark else "black", spacing=8
    )
    image.save(path)
    return path


TRACEBACK = """Traceback (most recent call last):
  File "/home/dev/shop/cart.py", line 14, in <module>
    print(total([3, 4]))
  File "/home/dev/shop/cart.py", line 9, in total
    return sum(prices) / len(discounts)
ZeroDivisionError: division by zero"""
