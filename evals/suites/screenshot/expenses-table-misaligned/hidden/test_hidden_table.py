import subprocess
import sys

from budget.table import render_table


def _columns_line_up(text, cells):
    """Every line has its separators at the same places, and every cell sits in its column."""
    lines = text.splitlines()
    assert len(lines) == len(cells) + 1  # + the rule line
    header, rule, *body = lines
    seps = [i for i, ch in enumerate(header) if ch == "|"]
    assert len(seps) == len(cells[0]) - 1
    assert [i for i, ch in enumerate(rule) if ch == "+"] == seps
    for line, row in zip([header] + body, cells):
        assert [i for i, ch in enumerate(line) if ch == "|"] == seps, line
        bounds = [-1] + seps + [len(line) + 1]
        pieces = [line[bounds[k] + 1:bounds[k + 1]].strip() for k in range(len(bounds) - 1)]
        assert pieces == row, line


def test_long_cells_widen_their_column():
    headers = ["Name", "Qty", "Note"]
    rows = [["apple", "3", "-"], ["watermelon (large)", "12", "ripe"], ["fig", "1250", "x"]]
    text = render_table(headers, rows, align="<><")
    _columns_line_up(text, [headers] + rows)
    # right-aligned numbers end at the same column
    lines = text.splitlines()
    ends = {line.index("|", line.index("|") + 1) for line in [lines[0]] + lines[2:]}
    assert len(ends) == 1


def test_short_cells_keep_header_width():
    text = render_table(["Category", "N"], [["a", "1"]])
    _columns_line_up(text, [["Category", "N"], ["a", "1"]])


def test_report_output_lines_up():
    out = subprocess.run([sys.executable, "main.py"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    cells = [
        ["Category", "Items", "Amount"],
        ["Rent", "1", "1250.00"],
        ["Groceries", "4", "311.00"],
        ["Electricity & gas", "1", "112.80"],
        ["Eating out", "2", "102.70"],
        ["Public transport", "2", "61.60"],
        ["Phone", "1", "19.99"],
        ["Streaming subscriptions", "1", "17.98"],
    ]
    _columns_line_up(out.stdout.rstrip("\n"), cells)
