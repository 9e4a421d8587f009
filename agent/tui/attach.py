"""Images for the next message: the line above the input that lists and reads them, and the
attacher that takes them from files, the clipboard or a drop and says how it went.

Reading an image may take seconds (OCR for a model without vision), so it runs in a worker
thread; the result comes back as an `AttachmentBar.Done` message, which bubbles to the app.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from textual import work
from textual.content import Content
from textual.message import Message
from textual.widgets import Static

from gemma_code.agent.attachments import Attachment, PendingAttachments, pasted_images
from gemma_code.agent.images import ImageError, ImageForModel
from gemma_code.agent.session import Session

# Called in the worker thread: the image's file, or its encoded bytes (from the clipboard).
ImageSource = Callable[[], Path | bytes]
# (text, kind) -> shown in the transcript
Say = Callable[[str, str], Awaitable[None]]


class AttachmentBar(Static):
    """Images attached to the next message, and those still being read."""

    class Done(Message):
        """An image was read (`result`), or could not be (`error`)."""

        def __init__(self, name: str, result: ImageForModel | None, error: ImageError | None,
                     kept: bool, tag: str) -> None:
            self.name, self.result, self.error = name, result, error
            self.kept = kept  # False when /image clear dropped it while it was read
            self.tag = tag  # what the caller asked with, e.g. the key that started it
            super().__init__()

    def __init__(self, **kwargs) -> None:
        super().__init__("", **kwargs)
        self.pending = PendingAttachments()

    def on_mount(self) -> None:
        self.show()

    def attach(self, session: Session, name: str, source: ImageSource, tag: str = "") -> None:
        """Read an image for the next message, off the UI thread."""
        ticket = self.pending.start(name)
        self.show()
        self._read(session, ticket, name, source, tag)

    @work(thread=True, group="attach", exit_on_error=False)
    def _read(self, session: Session, ticket: int, name: str, source: ImageSource, tag: str) -> None:
        result, error = None, None
        try:
            result = session.attach_image(source(), name=name)
        except ImageError as exc:
            error = exc
        except Exception as exc:  # noqa: BLE001 - an OCR engine failing must not end the app
            error = ImageError(f"{name}: {type(exc).__name__}: {exc}")
        self.app.call_from_thread(self._finish, ticket, name, result, error, tag)

    def _finish(self, ticket: int, name: str, result: ImageForModel | None,
                error: ImageError | None, tag: str) -> None:
        attachment = Attachment(name, result.parts) if result is not None else None
        kept = self.pending.finish(ticket, attachment)
        self.show()
        self.post_message(self.Done(name, result, error, kept, tag))

    def clear(self) -> int:
        count = self.pending.clear()
        self.show()
        return count

    def listing(self) -> str:
        """What `/image` says: the attached images, or how to attach one."""
        lines = [f"  {a.name}" for a in self.pending.ready]
        lines += [f"  {name} (reading…)" for name in self.pending.reading]
        if not lines:
            return "no images are attached; /image PATH, Ctrl+V or dropping a file attaches one"
        return "attached to the next message (/image clear drops them):\n" + "\n".join(lines)

    def show(self) -> None:
        ready, reading = self.pending.ready, self.pending.reading
        self.display = bool(ready or reading)
        parts: list[Content | tuple[str, str] | str] = []
        if ready:
            parts.append(("📎 " + " · ".join(a.name for a in ready), "$text-accent"))
            parts.append(("  sent with the next message; /image clear drops them", "$text-muted"))
        if reading:
            parts.append("  " if ready else "")
            parts.append((f"reading {', '.join(reading)}…", "$text-muted italic"))
        self.update(Content.assemble(*parts))


class ImageAttacher:
    """Attaches images to the next message (files, the clipboard, a drop) and says how it went."""

    def __init__(self, bar: AttachmentBar, root: Path, session: Callable[[], Session | None],
                 say: Say) -> None:
        self.bar, self.root, self.session, self.say = bar, root, session, say

    async def _attach(self, name: str, source: ImageSource, tag: str = "") -> None:
        session = self.session()
        if session is None:
            await self.say(f"cannot attach {name}: no model is loaded yet (attaching needs to "
                           "know whether it sees images)", "error")
            return
        self.bar.attach(session, name, source, tag)

    async def files(self, paths: list[Path]) -> None:
        for path in paths:
            await self._attach(path.name, lambda path=path: path)

    async def clipboard(self, tag: str = "") -> None:
        from gemma_code.agent.clipboard import grab_image

        await self._attach("clipboard image", grab_image, tag)

    async def pasted(self, text: str) -> bool:
        """A paste of nothing but image paths (a drag and drop) attaches them."""
        paths = pasted_images(text, self.root)
        if paths:
            await self.files(paths)
        return bool(paths)

    async def report(self, done: AttachmentBar.Done, paste_cut: Callable[[], None] | None) -> None:
        """Say how reading an image went; Ctrl+V with no image on the clipboard runs
        `paste_cut` instead (the text cut in the app, when there is some)."""
        from gemma_code.agent.clipboard import NoClipboardImage

        if isinstance(done.error, NoClipboardImage) and done.tag == "ctrl+v" and paste_cut:
            paste_cut()
        elif done.error is not None:
            await self.say(str(done.error), "error")
        elif done.kept:
            await self.say(f"📎 {done.result.how}", "info")

    async def model_changed(self, saw: bool, sees: bool) -> None:
        """Warn when the attached images were prepared for a model that saw differently."""
        if saw != sees and self.bar.pending:
            await self.say("the attached images were prepared for the previous model, which "
                           f"{'saw' if saw else 'could not see'} images; "
                           "/image clear and attach them again", "warning")
