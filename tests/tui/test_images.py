"""Pilot tests of image attachments: /image, dropped paths, Ctrl+V and /paste, OCR and vision."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from PIL import Image, ImageDraw, ImageFont
from textual import events

from gemma_code.agent import ocr
from gemma_code.agent.config import Settings
from gemma_code.agent.messages import ImagePart, TextPart, UserMessage
from gemma_code.agent.tui.app import IMAGES_ONLY_TEXT, GemmaCodeApp
from gemma_code.agent.tui.approval import ApprovalPrompt
from gemma_code.agent.tui.attach import AttachmentBar
from gemma_code.agent.tui.widgets import UserBlock
from gemma_code.backends.scripted import ScriptedBackend

from .conftest import finished, notices, ready, send, until
from .xserver import XClipboard, x_clipboard  # noqa: F401 - a fixture

pytestmark = pytest.mark.asyncio
OCR_SECONDS = 90  # the first OCR in a process loads its models


@pytest.fixture(autouse=True)
def _images_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMMA_CODE_IMAGES_DIR", str(tmp_path / "images"))


def make_app(root: Path, turns: list[dict], *, vision: bool, **kwargs) -> tuple[GemmaCodeApp, ScriptedBackend]:
    backend = ScriptedBackend.from_turns(turns, vision=vision, chunk_size=4, **kwargs)
    # no repo map ahead of the message (these tests check the parts a message is made of), and
    # no test run after an edit
    settings = Settings(model="scripted-test", repo_map_tokens=0, context_files_tokens=0, verify="off")
    app = GemmaCodeApp(settings, root, open_backend=lambda s, n: backend, theme="textual-dark")
    return app, backend


def text_png(path: Path, text: str) -> Path:
    """A screenshot-like PNG: black text on white, large enough for OCR to read."""
    image = Image.new("RGB", (640, 100), "white")
    ImageDraw.Draw(image).text((20, 25), text, fill="black", font=ImageFont.load_default(size=40))
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


def squares_png(path: Path) -> Path:
    image = Image.new("RGB", (30, 20), "red")
    image.paste((0, 0, 255), (15, 0, 30, 20))
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


def bar_text(app: GemmaCodeApp) -> str:
    bar = app.query_one(AttachmentBar)
    return str(bar.render()) if bar.display else ""


def sent(backend: ScriptedBackend) -> UserMessage:
    return backend.seen[-1][-1]


def paste(app: GemmaCodeApp, text: str) -> None:
    """What a terminal sends for a paste or a drag and drop (a bracketed paste)."""
    app.post_message(events.Paste(text))


def images_of(message: UserMessage) -> list[Image.Image]:
    return [Image.open(part.path) for part in message.content if isinstance(part, ImagePart)]


async def test_ocr_text_reaches_a_model_without_vision(repo: Path, store):
    text_png(repo / "shot.png", "BUILD FAILED")
    app, backend = make_app(repo, [{"text": "The build failed."}], vision=False)
    app.lifecycle.store = store
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        with ocr._engine_lock:  # holds the OCR worker back, so the message surely comes first
            await send(pilot, "/image shot.png")
            await until(pilot, lambda: "reading shot.png" in bar_text(app))
            await send(pilot, "what does it say?")
            assert app.prompt.text == "what does it say?"  # kept until the image is read
            assert any("still reading shot.png" in n for n in notices(app))
        await until(pilot, lambda: any("read with OCR" in n for n in notices(app)), OCR_SECONDS)
        assert any("📎 shot.png (640x100) read with OCR: 1 lines in" in n
                   and "(the model has no vision)" in n for n in notices(app))
        assert "shot.png" in bar_text(app)
        await pilot.press("enter")
        await finished(pilot)
        message = sent(backend)
        assert "BUILD FAILED" in message.text and not images_of(message)
        assert message.content[-1] == TextPart(text="what does it say?")
        assert "attached: shot.png" in str(app.query(UserBlock).last().render())
        assert bar_text(app) == ""
        session_id = app.session_id

    resumed, _ = make_app(repo, [], vision=False)
    resumed.lifecycle.store, resumed.resume_id = store, session_id
    async with resumed.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        shown = str(resumed.query(UserBlock).first().render())
        assert shown == "› what does it say?\nattached: shot.png"  # not the OCR text


async def test_a_model_with_vision_gets_the_image_itself(repo: Path, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    squares_png(tmp_path / "home" / "pics" / "squares.png")
    app, backend = make_app(repo, [{"text": "Red and blue."}], vision=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await send(pilot, "/image ~/pics/squares.png")
        await until(pilot, lambda: "squares.png" in bar_text(app) and "reading" not in bar_text(app))
        assert any("📎 squares.png (30x20) sent to the model as an image" in n for n in notices(app))
        await send(pilot, "")  # only an image: Enter on the empty input sends it
        await finished(pilot)
        message = sent(backend)
        assert message.text == IMAGES_ONLY_TEXT
        [image] = images_of(message)
        assert image.size == (30, 20) and image.getpixel((0, 0)) == (255, 0, 0)
        assert image.getpixel((29, 19)) == (0, 0, 255)


@pytest.mark.parametrize("how", ["'{path}'", "{escaped}", "file://{quoted}"])
async def test_a_dropped_path_attaches_the_image(repo: Path, how: str):
    path = squares_png(repo / "my shots" / "a b.png")
    dropped = how.format(path=path, escaped=str(path).replace(" ", "\\ "), quoted=quote(str(path)))
    app, backend = make_app(repo, [{"text": "ok"}], vision=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await pilot.press(*"compare ")
        paste(app, dropped)
        await until(pilot, lambda: any("📎 a b.png" in n for n in notices(app)))
        assert app.prompt.text == "compare "  # the path was not inserted
        await send(pilot, "compare these")
        await finished(pilot)
        assert len(images_of(sent(backend))) == 1


async def test_pasted_text_and_other_paths_are_inserted_as_text(repo: Path):
    app, _ = make_app(repo, [], vision=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        paste(app, "hello there")
        await until(pilot, lambda: app.prompt.text == "hello there")
        paste(app, f" {repo / 'calc.py'}")  # a file, but not an image
        await until(pilot, lambda: app.prompt.text.endswith("calc.py"))
        await pilot.pause()
        assert bar_text(app) == "" and not any("📎" in n for n in notices(app))


async def test_unusable_images_are_explained_and_the_draft_is_kept(repo: Path):
    good = (repo / "good.png")
    squares_png(good)
    (repo / "broken.png").write_bytes(good.read_bytes()[:60])  # a truncated PNG
    app, backend = make_app(repo, [{"text": "ok"}], vision=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await send(pilot, "/image missing.png")
        await until(pilot, lambda: any("missing.png: no such file" in n for n in notices(app)))
        await pilot.press(*"my draft")
        paste(app, str(repo / "broken.png"))
        await until(pilot, lambda: any("broken.png is damaged or truncated" in n for n in notices(app)))
        assert app.prompt.text == "my draft" and bar_text(app) == ""
        await pilot.press("enter")
        await finished(pilot)
        assert sent(backend).content == (TextPart(text="my draft"),)


async def test_image_lists_and_clear_drops_the_attachments(repo: Path):
    squares_png(repo / "a.png")
    squares_png(repo / "b.png")
    app, backend = make_app(repo, [{"text": "ok"}], vision=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await send(pilot, "/image")
        assert "no images are attached" in notices(app)[-1]
        await send(pilot, "/image a.png b.png")
        await until(pilot, lambda: bar_text(app).startswith("📎 a.png · b.png"))
        await send(pilot, "/image")
        assert "attached to the next message" in notices(app)[-1]
        assert "  a.png\n  b.png" in notices(app)[-1]
        await send(pilot, "/image clear")
        assert notices(app)[-1] == "dropped 2 attachments" and bar_text(app) == ""
        await send(pilot, "")
        assert not backend.seen  # nothing attached: Enter on the empty input does nothing
        await send(pilot, "no images")
        await finished(pilot)
        assert not images_of(sent(backend))


async def test_attaching_during_a_turn_waits_for_the_next_message(repo: Path):
    squares_png(repo / "a.png")
    edit = {"name": "edit_file", "arguments": {"path": "calc.py", "old": "a - b", "new": "a + b"}}
    read = {"name": "read_file", "arguments": {"path": "calc.py"}}
    app, backend = make_app(repo, [{"tool_calls": [read]}, {"tool_calls": [edit]}, {"text": "done"},
                                   {"text": "ok"}], vision=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await send(pilot, "first")
        await until(pilot, lambda: app.query(ApprovalPrompt))  # the turn waits for an answer
        await send(pilot, "/image a.png")
        await until(pilot, lambda: "a.png" in bar_text(app) and "reading" not in bar_text(app))
        app.query_one(ApprovalPrompt).focus()
        await pilot.press("y")
        await finished(pilot)
        assert not any(images_of(m) for seen in backend.seen for m in seen
                       if isinstance(m, UserMessage))
        await send(pilot, "second")
        await finished(pilot)
        assert len(images_of(sent(backend))) == 1


async def test_image_paths_complete_with_tab(repo: Path):
    squares_png(repo / "shots" / "screen.png")
    app, _ = make_app(repo, [], vision=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await pilot.press(*"/image sh", "tab")
        assert app.prompt.text == "/image shots/"
        await until(pilot, lambda: app.query_one("#menu").display)
        await pilot.press("tab")
        assert app.prompt.text == "/image shots/screen.png"


@pytest.mark.skipif(sys.platform in ("darwin", "win32"), reason="the Linux clipboard (X11)")
async def test_ctrl_v_and_paste_attach_the_clipboard_image(repo: Path, x_clipboard: XClipboard):
    image = Image.new("RGB", (24, 16), (0, 128, 0))
    data = io.BytesIO()
    image.save(data, "PNG")
    x_clipboard.put(data.getvalue(), "image/png")
    app, backend = make_app(repo, [{"text": "ok"}], vision=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await pilot.press(*"what is this", "ctrl+v")
        await until(pilot, lambda: any("📎 clipboard image (24x16)" in n for n in notices(app)))
        assert app.prompt.text == "what is this"
        await pilot.press("enter")
        await finished(pilot)
        [seen] = images_of(sent(backend))
        assert seen.size == (24, 16) and seen.getpixel((5, 5)) == (0, 128, 0)

        x_clipboard.put(b"only text now", "UTF8_STRING")
        await send(pilot, "/paste")
        await until(pilot, lambda: any("the clipboard holds no image" in n for n in notices(app)))
        assert app.is_running and bar_text(app) == ""

        app.prompt.load_text("cut me")
        app.prompt.select_all()
        await pilot.press("ctrl+x", "ctrl+v")  # no image: Ctrl+V pastes what was cut
        await until(pilot, lambda: app.prompt.text == "cut me")
        assert sum("holds no image" in n for n in notices(app)) == 1


async def test_switching_to_a_model_without_vision_warns_about_attached_images(repo: Path):
    squares_png(repo / "a.png")

    def opener(settings: Settings, notice) -> ScriptedBackend:
        return ScriptedBackend.from_turns([], vision=settings.model == "seeing")

    app = GemmaCodeApp(Settings(model="seeing"), repo, open_backend=opener, theme="textual-dark")
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await send(pilot, "/image a.png")
        await until(pilot, lambda: any("sent to the model as an image" in n for n in notices(app)))
        await send(pilot, "/model blind")
        await until(pilot, lambda: any("prepared for the previous model, which saw images" in n
                                       for n in notices(app)))
