"""Writes build/report.html: the open issues from data/issues.json as a table."""

import json
from pathlib import Path

from report.html import render_report


def main():
    data = json.loads(Path("data/issues.json").read_text(encoding="utf-8"))
    out = Path("build/report.html")
    out.parent.mkdir(exist_ok=True)
    out.write_text(render_report(data), encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
