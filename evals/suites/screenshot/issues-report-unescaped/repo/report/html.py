"""The issues report as one self-contained HTML page."""

PRIORITY_ORDER = {"high": 0, "medium": 1, "low": 2}

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Open issues - {project}</title>
<style>
  body {{ font-family: "DejaVu Sans", Arial, sans-serif; margin: 32px; color: #1f2933; }}
  h1 {{ font-size: 22px; margin: 0 0 4px; }}
  .count {{ color: #52606d; margin: 0 0 20px; }}
  table {{ border-collapse: collapse; width: 100%; }}
  th, td {{ text-align: left; padding: 8px 10px; border-bottom: 1px solid #d9e2ec; }}
  th {{ background: #f0f4f8; }}
  .high {{ color: #c92a2a; font-weight: bold; }}
  .medium {{ color: #d9480f; }}
  .low {{ color: #2b8a3e; }}
  footer {{ margin-top: 16px; font-size: 13px; color: #7b8794; }}
</style>
</head>
<body>
<h1>Open issues - {project}</h1>
<p class="count">{count} open issues</p>
<table>
<tr><th>#</th><th>Title</th><th>Priority</th><th>Assignee</th></tr>
{rows}
</table>
<footer>Exported {exported}</footer>
</body>
</html>
"""

ROW = '<tr><td>{id}</td><td>{title}</td><td class="{priority}">{priority}</td><td>{assignee}</td></tr>'


def render_row(issue):
    return ROW.format(**issue)


def render_report(data):
    issues = sorted(data["issues"], key=lambda i: (PRIORITY_ORDER[i["priority"]], i["id"]))
    return PAGE.format(
        project=data["project"],
        count=len(issues),
        rows="\n".join(render_row(issue) for issue in issues),
        exported=data["exported"],
    )
