import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

from dashboard.render import render_dashboard


class Fills(HTMLParser):
    """The inline width of every progress-bar fill, and the page's <style> text."""

    def __init__(self):
        super().__init__()
        self.widths, self.css = [], ""
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "style":
            self._in_style = True
        if "fill" in (attrs.get("class") or "").split():
            style = attrs.get("style") or ""
            found = re.search(r"(?:^|;)\s*width\s*:\s*([^;]+)", style)
            self.widths.append(found.group(1).strip() if found else None)

    def handle_endtag(self, tag):
        if tag == "style":
            self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.css += data


def _bar_px(css):
    rule = re.search(r"\.bar\s*\{([^}]*)\}", css)
    width = re.search(r"(?:^|;)\s*width\s*:\s*([\d.]+)px", rule.group(1)) if rule else None
    return float(width.group(1)) if width else None


def _as_percent(width, css):
    """A CSS width as percent of the bar; None when the browser would ignore it."""
    assert width is not None, "a fill has no inline width"
    value = re.fullmatch(r"([\d.]+)\s*(%|px)?", width)
    assert value, f"not a valid CSS width: {width!r}"
    number, unit = float(value.group(1)), value.group(2)
    assert unit or number == 0, f"a length without a unit is ignored by the browser: {width!r}"
    if unit == "%" or number == 0:
        return number
    bar = _bar_px(css)
    assert bar, "px width but no px width on .bar"
    return 100 * number / bar


def _check(html, teams):
    parser = Fills()
    parser.feed(html)
    assert len(parser.widths) == len(teams)
    for width, team in zip(parser.widths, teams):
        expected = 100 * team["done"] / team["total"] if team["total"] else 0
        assert abs(_as_percent(width, parser.css) - expected) <= 1, (team, width)


def test_generated_dashboard_bars():
    out = subprocess.run([sys.executable, "make_dashboard.py"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    html = Path("build/dashboard.html").read_text(encoding="utf-8")
    teams = json.loads(Path("data/sprint.json").read_text(encoding="utf-8"))["teams"]
    _check(html, teams)
    for team in teams:
        pct = round(100 * team["done"] / team["total"])
        assert re.search(rf">\s*{pct}(\.0+)?\s*%\s*<", html), f"label {pct}% missing"


def test_other_sprint():
    teams = [{"name": "A", "done": 1, "total": 3}, {"name": "B", "done": 5, "total": 5},
             {"name": "C", "done": 0, "total": 0}]
    _check(render_dashboard({"name": "S", "teams": teams}), teams)
