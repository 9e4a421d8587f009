"""The dashboard page: one progress bar per team."""

from html import escape

from .metrics import completion

STYLE = """
body { font-family: "DejaVu Sans", Arial, sans-serif; margin: 32px; color: #1f2933; }
h1 { font-size: 22px; margin: 0 0 24px; }
.team { display: flex; align-items: center; gap: 16px; margin-bottom: 18px; }
.name { width: 140px; font-weight: bold; }
.bar { width: 360px; height: 16px; background: #e4e7eb; border-radius: 8px; overflow: hidden; }
.fill { height: 100%; background: #2f9e44; }
.pct { width: 48px; text-align: right; }
.tickets { color: #7b8794; font-size: 14px; }
"""


def render_team(team):
    pct = completion(team["done"], team["total"])
    return (
        '<div class="team">'
        f'<span class="name">{escape(team["name"])}</span>'
        f'<div class="bar"><div class="fill" style="width: {pct}%"></div></div>'
        f'<span class="pct">{pct}%</span>'
        f'<span class="tickets">{team["done"]} of {team["total"]} tickets</span>'
        "</div>"
    )


def render_dashboard(sprint):
    teams = "\n".join(render_team(team) for team in sprint["teams"])
    return (
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{escape(sprint['name'])}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        f"<h1>{escape(sprint['name'])} - progress</h1>\n{teams}\n</body>\n</html>\n"
    )
