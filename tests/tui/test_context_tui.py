"""The TUI shows the repo map (`/map`) and what a message attached before step 1."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import finished, make_app, notices, ready, send, until

pytestmark = pytest.mark.asyncio


async def test_map_command_shows_the_ranked_map(repo: Path):
    app, _ = make_app(repo, [], context=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await send(pilot, "/map add")
        await until(pilot, lambda: any("Repository map" in n for n in notices(app)))
        shown = next(n for n in notices(app) if "Repository map" in n)
        assert "calc.py" in shown and "1: def add(a, b):" in shown


async def test_attached_context_is_shown_as_one_line(repo: Path):
    app, backend = make_app(repo, [{"text": "ok"}], context=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await send(pilot, "why does test_calc.py fail?")
        await finished(pilot)
        line = next(n for n in notices(app) if n.startswith("context:"))
        assert "test_calc.py (whole, named in the prompt)" in line and "repo map (" in line
        assert backend.seen[0][-1].typed == "why does test_calc.py fail?"
