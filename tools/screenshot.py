"""screenshot: a picture of a web page, a workspace HTML/SVG file, or the screen, for the model.

Pages are rendered by a headless Chromium-family browser already installed on the system;
nothing is downloaded. Workspace files are served to it from a throwaway loopback HTTP server
rather than opened as file:// URLs, because a file:// page may show any file on the machine
in an iframe, while an http page cannot load file:// at all.
"""

from __future__ import annotations

import functools
import io
import ipaddress
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import quote, unquote, urlsplit

from pydantic import BaseModel, ConfigDict, Field

from gemma_code.agent.images import ImageError, prepare_image
from gemma_code.agent.protocols import ToolContext, ToolError, ToolResult
from gemma_code.agent.safety.secrets import secret_reason

from .files import existing_file
from .vision import image_result

BROWSER_ENV = "GEMMA_CODE_BROWSER"
BROWSER_NAMES = (
    "chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome",
    "microsoft-edge", "brave-browser",
)
MAC_BROWSERS = tuple(
    f"{apps}/{app}.app/Contents/MacOS/{app}"
    for apps in ("/Applications", str(Path.home() / "Applications"))
    for app in ("Chromium", "Google Chrome", "Microsoft Edge", "Brave Browser")
)
BROWSER_FLAGS = (
    "--headless", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-extensions", "--hide-scrollbars", "--mute-audio",
)
# Nothing listens on port 9 (discard), and Chromium never proxies loopback addresses: pages
# reach this machine only.
OFFLINE_PROXY = "--proxy-server=127.0.0.1:9"
MAX_SECONDS = 60.0
POLL = 0.05
STDERR_LINES = 8
INSTALL_HINT = (
    "Ask the user to install Chromium (Debian/Ubuntu: apt install chromium; Fedora: dnf "
    "install chromium; macOS: brew install --cask chromium) or Chrome, or to set "
    f"{BROWSER_ENV} to the path of a Chromium-based browser."
)


class Screenshot:
    """Take a screenshot of a web page, a workspace HTML/SVG file, or the screen."""

    name: ClassVar[str] = "screenshot"
    description: ClassVar[str] = (
        "Take a screenshot of a web page or of an HTML/SVG file in the workspace, rendered by "
        "a headless browser, or of the user's screen. Use it to check how a page or UI you "
        "built looks. Pages served on this machine (e.g. a dev server at "
        "http://localhost:3000) always work; other sites need network access."
    )
    mutating: ClassVar[bool] = False
    runs_commands: ClassVar[bool] = False

    class Args(BaseModel):
        model_config = ConfigDict(extra="forbid")
        target: str = Field(
            description="An http(s):// URL, a file:// URL or a path (relative to the workspace "
            "root) of an HTML or SVG file, or the word 'screen' for the user's screen."
        )
        width: int = Field(
            default=1280, ge=320, le=3840,
            description="Browser window width in pixels (not used for 'screen').",
        )
        height: int = Field(
            default=800, ge=200, le=4000,
            description="Browser window height in pixels (not used for 'screen').",
        )

    def __call__(self, args: Screenshot.Args, ctx: ToolContext) -> ToolResult:
        target = args.target.strip()
        data = _grab_screen() if target.lower() == "screen" else _render(target, args, ctx)
        try:
            image = prepare_image(data, name=f"screenshot of {target}")
        except ImageError as exc:
            raise ToolError(str(exc)) from None
        return image_result(image, ctx)


def find_browser() -> str:
    """The browser to render with: $GEMMA_CODE_BROWSER, a known name on PATH, or a macOS app."""
    override = os.environ.get(BROWSER_ENV)
    if override:
        found = shutil.which(override)
        if found is None:
            raise ToolError(f"{BROWSER_ENV} is set to {override}, which is not an executable "
                            f"file. {INSTALL_HINT}")
        return found
    for name in BROWSER_NAMES:
        if found := shutil.which(name):
            return found
    for path in MAC_BROWSERS if sys.platform == "darwin" else ():
        if os.access(path, os.X_OK):
            return path
    raise ToolError(f"no Chromium-based browser is installed to render the page. {INSTALL_HINT}")


def _render(target: str, args: Screenshot.Args, ctx: ToolContext) -> bytes:
    """The PNG of `target` as the browser draws it in a width x height window."""
    page = _page(target, ctx)
    browser = find_browser()
    size = f"{args.width},{args.height}"
    if isinstance(page, str):
        return _run_browser(browser, page, size, ctx)
    with _serve(ctx.workspace.root) as base:
        return _run_browser(browser, base + quote(ctx.workspace.relative(page)), size, ctx)


def _page(target: str, ctx: ToolContext) -> str | Path:
    """The URL to load, or the workspace file to serve; ToolError when not allowed."""
    if "\0" in target:
        raise ToolError("the target holds a NUL byte; give a URL, a path or 'screen'.")
    parts = urlsplit(target)
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        _check_host(target, parts.hostname or "", ctx)
        return target
    if scheme == "file":
        return _workspace_page(ctx, unquote(parts.path))
    if len(scheme) > 1:  # a one-letter scheme is a Windows drive
        raise ToolError(f"cannot take a screenshot of {target}: give an http(s):// or file:// "
                        "URL, the path of a file in the workspace, or 'screen'.")
    return _workspace_page(ctx, target)


def _workspace_page(ctx: ToolContext, path: str) -> Path:
    page = existing_file(ctx, path, "screenshot")
    why = _withheld(ctx.workspace.root / path, page, ctx.workspace.root)
    if why:
        raise ToolError(f"{ctx.workspace.relative(page)} is not rendered: {why} (read_file asks "
                        "the user before reading such a file).")
    return page


def _check_host(target: str, host: str, ctx: ToolContext) -> None:
    if ctx.network or _is_loopback(host):
        return
    raise ToolError(
        f"{target} is on another machine ({host}), so the screenshot needs network access; "
        "the user can allow it with --network. Pages served on this machine "
        "(localhost, 127.0.0.1) work without it."
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _WorkspaceFiles(SimpleHTTPRequestHandler):
    """Serves the files under `directory`, quietly. A symlink that leads out of it, `.git`
    and files that look like secrets are a 404: a page must not show what read_file would
    ask the person about, whatever the approval mode."""

    def send_head(self):
        asked = Path(self.translate_path(self.path))
        real = asked.resolve()
        if not real.is_relative_to(self.directory):
            self.send_error(HTTPStatus.NOT_FOUND, "outside the workspace")
            return None
        if _withheld(asked, real, Path(self.directory)):
            self.send_error(HTTPStatus.NOT_FOUND, "not served")
            return None
        return super().send_head()

    def list_directory(self, path):
        self.send_error(HTTPStatus.NOT_FOUND, "no listings")
        return None

    def log_message(self, format: str, *args: object) -> None:
        pass


def _withheld(asked: Path, real: Path, root: Path) -> str | None:
    """Why a workspace file is not served or rendered: git internals or a secret."""
    if any(".git" in p.relative_to(root).parts for p in (asked, real) if p.is_relative_to(root)):
        return "it is inside .git"
    why = secret_reason(asked)
    return f"it looks like a secret: {why}" if why else None


@contextmanager
def _serve(root: Path) -> Iterator[str]:
    """Serve `root` on a free loopback port while the block runs; yields the base URL."""
    handler = functools.partial(_WorkspaceFiles, directory=str(root.resolve()))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": POLL},
                              name="screenshot-files", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _run_browser(browser: str, url: str, size: str, ctx: ToolContext) -> bytes:
    """Run the browser once in a fresh profile and return the PNG it wrote."""
    if ctx.cancel.is_set():
        raise ToolError("cancelled by the user before the browser started.")
    timeout = min(ctx.shell_timeout, MAX_SECONDS)
    with tempfile.TemporaryDirectory(prefix="gemma-code-shot-", ignore_cleanup_errors=True) as tmp:
        shot, log = Path(tmp) / "shot.png", Path(tmp) / "browser.log"
        argv = [browser, *BROWSER_FLAGS, *_context_flags(ctx), f"--user-data-dir={tmp}/profile",
                f"--window-size={size}", f"--screenshot={shot}", url]
        with log.open("wb") as out:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                    cwd=tmp, start_new_session=True)
            outcome = _wait(proc, time.monotonic() + timeout, ctx.cancel)
        if outcome == "timeout":
            raise ToolError(f"the browser did not finish within {timeout:g}s and was stopped "
                            "with everything it started; the page may never finish loading. "
                            "Check that its server answers, or try a simpler page.")
        if outcome == "cancelled":
            raise ToolError("cancelled by the user; the browser was stopped.")
        if proc.returncode != 0 or not shot.is_file():
            raise ToolError(_failure(proc.returncode, log.read_bytes(), ctx))
        return shot.read_bytes()


def _context_flags(ctx: ToolContext) -> list[str]:
    flags = [] if ctx.network else [OFFLINE_PROXY]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        flags.append("--no-sandbox")  # Chromium refuses to start as root with its sandbox on
    return flags


def _wait(proc: subprocess.Popen, deadline: float, cancel: threading.Event) -> str:
    """Wait for the browser: "exit", "timeout" or "cancelled"; its process group ends either way."""
    try:
        while proc.poll() is None:
            if cancel.wait(POLL):
                return "cancelled"
            if time.monotonic() > deadline:
                return "timeout"
        return "exit"
    finally:
        # Also after a clean exit: helpers it left behind go too. Nothing there needs saving.
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _failure(code: int, log: bytes, ctx: ToolContext) -> str:
    """What went wrong, from the last lines the browser printed (D-Bus chatter left out)."""
    lines = [line[:300] for line in log.decode("utf-8", "replace").splitlines()
             if line.strip() and "dbus" not in line.lower()]
    tail = "\n".join(lines[-STDERR_LINES:]) or "(it printed nothing)"
    message = f"the browser wrote no screenshot (exit code {code}); it printed:\n{tail}"
    if "ERR_PROXY_CONNECTION_FAILED" in tail and not ctx.network:
        message += ("\n(The page tried to reach another machine; without network access only "
                    "this machine can be reached. The user can allow it with --network.)")
    return message


def _grab_screen() -> bytes:
    """The user's screen as PNG bytes; ToolError where there is none or it cannot be read."""
    if sys.platform not in ("darwin", "win32") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        raise ToolError("there is no screen to capture here (no DISPLAY or WAYLAND_DISPLAY is "
                        "set); give a URL or an HTML file to render instead.")
    try:
        from PIL import ImageGrab

        image = ImageGrab.grab()
    except Exception as exc:  # Pillow raises OSError, CalledProcessError, ... by platform
        raise ToolError(f"could not capture the screen: {exc}") from None
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()
