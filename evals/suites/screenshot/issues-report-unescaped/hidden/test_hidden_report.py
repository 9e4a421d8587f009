import json
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

from report.html import render_report


class Cells(HTMLParser):
    """The text of every table row's cells, and every start tag seen."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.rows, self.tags, self.footer = [], [], ""
        self._cell = None
        self._in_footer = False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = ""
        elif tag == "footer":
            self._in_footer = True

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append(self._cell.strip())
            self._cell = None
        elif tag == "footer":
            self._in_footer = False

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data
        if self._in_footer:
            self.footer += data


def _parse(html):
    parser = Cells()
    parser.feed(html)
    parser.close()
    return parser


def _expected_rows(data):
    order = {"high": 0, "medium": 1, "low": 2}
    issues = sorted(data["issues"], key=lambda i: (order[i["priority"]], i["id"]))
    return [[str(i["id"]), i["title"], i["priority"], i["assignee"]] for i in issues]


def test_generated_report_shows_every_issue():
    out = subprocess.run([sys.executable, "make_report.py"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    html = Path("build/report.html").read_text(encoding="utf-8")
    data = json.loads(Path("data/issues.json").read_text(encoding="utf-8"))
    parsed = _parse(html)
    assert parsed.rows[0] == ["#", "Title", "Priority", "Assignee"]
    assert parsed.rows[1:] == _expected_rows(data)
    assert "template" not in parsed.tags
    assert "Exported 2024-05-06 08:30" in parsed.footer


def test_markup_in_titles_stays_text():
    data = {
        "project": "demo",
        "exported": "today",
        "issues": [
            {"id": 1, "title": "a<b and c>d", "priority": "low", "assignee": "Kim"},
            {"id": 2, "title": "Use <details> & <summary>", "priority": "high", "assignee": "R&D"},
            {"id": 3, "title": "Strip <script>alert(1)</script> from names", "priority": "medium", "assignee": "Lee"},
        ],
    }
    parsed = _parse(render_report(data))
    assert parsed.rows[1:] == _expected_rows(data)
    assert not {"b", "script", "details", "summary"} & set(parsed.tags)
