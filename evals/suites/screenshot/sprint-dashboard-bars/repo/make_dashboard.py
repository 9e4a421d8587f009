"""Writes build/dashboard.html: how far each team got in the current sprint."""

import json
from pathlib import Path

from dashboard.render import render_dashboard


def main():
    sprint = json.loads(Path("data/sprint.json").read_text(encoding="utf-8"))
    out = Path("build/dashboard.html")
    out.parent.mkdir(exist_ok=True)
    out.write_text(render_dashboard(sprint), encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
