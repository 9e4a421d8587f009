"""Plain-text tables:

    Name  | Qty
    ------+----
    apple |   3
"""


def _cell(text, width, how):
    return text.rjust(width) if how == ">" else text.ljust(width)


def render_table(headers, rows, align=None):
    """`headers` and every row are lists of strings; `align` has one '<' or '>' per column."""
    align = align or "<" * len(headers)
    widths = [len(header) for header in headers]
    lines = [" | ".join(_cell(h, w, a) for h, w, a in zip(headers, widths, align))]
    lines.append("-+-".join("-" * w for w in widths))
    for row in rows:
        lines.append(" | ".join(_cell(c, w, a) for c, w, a in zip(row, widths, align)))
    return "\n".join(line.rstrip() for line in lines)
