"""A private X server (Xvfb) whose clipboard tests fill with xclip, for the real clipboard path.

Without Xvfb or xclip the tests that need them are skipped, except under CI (the CI variable
set), where they fail: CI must install the apt packages in APT_PACKAGES.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

APT_PACKAGES = "xvfb xclip"


def require_x_tools() -> None:
    missing = [name for name in ("Xvfb", "xclip") if shutil.which(name) is None]
    if not missing:
        return
    why = f"{' and '.join(missing)} not installed (apt-get install {APT_PACKAGES})"
    if os.environ.get("CI"):
        pytest.fail(f"{why}: CI must install them for the clipboard tests")
    pytest.skip(why)


def _start_xvfb() -> tuple[subprocess.Popen, str]:
    """Xvfb on a random high display number, so as not to meet servers other tests start."""
    for _ in range(5):
        display = f":{random.randrange(100, 30_000)}"
        if Path(f"/tmp/.X11-unix/X{display[1:]}").exists():
            continue
        server = subprocess.Popen(
            ["Xvfb", display, "-screen", "0", "64x64x24", "-nolisten", "tcp"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        if _accepts_clients(server, display):
            return server, display
        server.kill()
        server.wait()
    pytest.fail("Xvfb did not start")


def _accepts_clients(server: subprocess.Popen, display: str, timeout: float = 20) -> bool:
    """Wait until a client can connect; False if the server exits (its display was taken)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and server.poll() is None:
        done = subprocess.run(["xclip", "-selection", "clipboard", "-t", "TARGETS", "-o"],
                              env={**os.environ, "DISPLAY": display}, capture_output=True,
                              text=True, timeout=10)
        if "open display" not in done.stderr:
            return True
        time.sleep(0.05)
    return False


class XClipboard:
    """The X server's clipboard; each `put` starts an xclip that owns it until `close`."""

    def __init__(self, display: str, folder: Path) -> None:
        self.display, self.folder = display, folder
        self.owners: list[subprocess.Popen] = []

    def _targets(self) -> str:
        done = subprocess.run(["xclip", "-selection", "clipboard", "-t", "TARGETS", "-o"],
                              capture_output=True, text=True, timeout=10)
        return done.stdout if done.returncode == 0 else ""

    def put(self, data: bytes, target: str) -> None:
        """Start an xclip that owns the clipboard with `data` as `target`; wait until it does.
        An xclip that exits first is started again (twice at most), and its errors are shown."""
        source = self.folder / f"clipboard-{len(self.owners)}"
        source.write_bytes(data)
        errors = self.folder / f"xclip-{len(self.owners)}.err"
        deadline = time.monotonic() + 20
        for _ in range(3):
            # -quiet keeps xclip in the foreground, so it can be stopped by its pid.
            with errors.open("ab") as err:
                owner = subprocess.Popen(
                    ["xclip", "-quiet", "-selection", "clipboard", "-t", target, "-i", str(source)],
                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
            self.owners.append(owner)
            while owner.poll() is None and time.monotonic() < deadline:
                if target in self._targets().split():
                    return
                time.sleep(0.02)
            if owner.poll() is None:
                break  # out of time, still running
        pytest.fail(f"xclip did not take the clipboard with {target} (exit status {owner.poll()}): "
                    f"{errors.read_text(errors='replace')[-500:]}")

    def close(self) -> None:
        for owner in self.owners:
            owner.terminate()
            owner.wait(5)


@pytest.fixture
def x_clipboard(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[XClipboard]:
    """An empty clipboard on a private X display, which DISPLAY points to."""
    require_x_tools()
    server, display = _start_xvfb()
    monkeypatch.setenv("DISPLAY", display)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    clipboard = XClipboard(display, tmp_path)
    try:
        yield clipboard
    finally:
        clipboard.close()
        server.terminate()
        server.wait(5)
