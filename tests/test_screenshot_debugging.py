"""Debugging from a screenshot, end to end: the image's text reaches the model's prompt.

With a model that has no vision the text comes from OCR; the scripted backend shows what
the model was given, and a real run with qwen2.5-coder-1.5b shows it can act on it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gemma_code.agent.approval import DenyApprover
from gemma_code.agent.config import Settings
from gemma_code.agent.events import ToolFinished
from gemma_code.agent.messages import ImagePart, ToolMessage, UserMessage
from gemma_code.agent.session import Session
from gemma_code.backends.scripted import ScriptedBackend

from .conftest import TRACEBACK, run_cli, text_png, write_script

TABLE = "region    q1     q2\nnorth     120    135\nsouth     98     87"


def _session(root: Path, turns: list[dict], vision: bool = False) -> tuple[Session, ScriptedBackend]:
    backend = ScriptedBackend.from_turns(turns, vision=vision)
    settings = Settings(approval="read-only", checkpoints=False, sandbox="off")
    return Session(settings, backend, root, DenyApprover()), backend


def test_an_attached_traceback_reaches_a_text_only_model_as_ocr_text(tmp_path: Path):
    shot = text_png(tmp_path / "traceback.png", TRACEBACK)
    session, backend = _session(tmp_path, [{"text": "It divides by len(discounts)."}])
    attached = session.attach_image(shot)
    assert "read with OCR: 6 lines" in attached.how
    list(session.run(UserMessage.of("fix the bug shown in the screenshot", attached.parts)))
    user = backend.seen[0][-1]
    assert isinstance(user, UserMessage)
    assert "[Text read by OCR from the image traceback.png" in user.text
    assert "ZeroDivisionError: division by zero" in user.text
    assert "return sum(prices) / len(discounts)" in user.text.replace(" /len", " / len")
    assert user.text.endswith("fix the bug shown in the screenshot")


def test_a_vision_model_gets_the_image_itself(tmp_path: Path):
    shot = text_png(tmp_path / "traceback.png", TRACEBACK)
    session, backend = _session(tmp_path, [{"text": "ok"}], vision=True)
    attached = session.attach_image(shot)
    assert "sent to the model as an image" in attached.how
    list(session.run(UserMessage.of("what is wrong?", attached.parts)))
    image = backend.seen[0][-1].content[0]
    assert isinstance(image, ImagePart) and image.path.read_bytes()[:4] == b"\x89PNG"


def test_view_image_of_a_table_reaches_the_model_as_rows(tmp_path: Path):
    text_png(tmp_path / "report.png", TABLE, dark=False)
    turns = [{"tool_calls": [{"name": "view_image", "arguments": {"path": "report.png"}}]},
             {"text": "South fell from 98 to 87."}]
    session, backend = _session(tmp_path, turns)
    events = list(session.run(UserMessage.of("which region fell between q1 and q2?")))
    finished = next(e for e in events if isinstance(e, ToolFinished))
    assert not finished.is_error and "read with OCR: 3 lines" in finished.summary
    result = backend.seen[1][-1]
    assert isinstance(result, ToolMessage)
    rows = [line.split() for line in result.text.splitlines()[1:]]
    assert rows == [["region", "q1", "q2"], ["north", "120", "135"], ["south", "98", "87"]]


def test_cli_tells_the_person_how_the_image_was_read(tmp_path: Path, isolated_env):
    shot = text_png(tmp_path / "traceback.png", TRACEBACK)
    script = write_script(tmp_path / "script.json", [{"text": "Seen."}])
    proc = run_cli(["run", "--backend", "scripted", "--model", str(script), "--json",
                    "--image", str(shot), "what failed?"], tmp_path, isolated_env)
    assert proc.returncode == 0, proc.stderr
    assert "gemma-code: traceback.png (" in proc.stderr and "read with OCR: 6 lines" in proc.stderr
    saved = next((tmp_path / "sessions").glob("*.jsonl")).read_text()
    assert "ZeroDivisionError: division by zero" in saved
    assert json.loads(proc.stdout.splitlines()[-1])["type"] == "run_finished"


@pytest.mark.real_model
def test_qwen_answers_from_a_screenshot_it_read_with_ocr(tmp_path: Path, isolated_env):
    """The real model run: the traceback's words exist only in the image."""
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
    shot = text_png(tmp_path / "error.png", TRACEBACK)
    proc = run_cli(
        ["run", "--model", "qwen2.5-coder-1.5b", "--approval", "read-only", "--temperature", "0",
         "--max-steps", "2", "--max-tokens", "48", "--image", str(shot),
         "Which exception is shown in the screenshot, and on which line of cart.py is the "
         "failing statement? Answer in one sentence without calling tools."],
        tmp_path, isolated_env, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert "error.png (" in proc.stderr and "read with OCR: 6 lines" in proc.stderr
    assert "ZeroDivisionError" in proc.stdout and "9" in proc.stdout, proc.stdout
