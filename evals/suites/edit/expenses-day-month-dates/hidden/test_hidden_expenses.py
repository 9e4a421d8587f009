import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

from expenses.parse import read_expenses
from expenses.report import monthly_totals

HERE = Path(__file__).resolve().parent

CSV = """date,category,amount
31/03/2024,rent,900.00
03/04/2024,groceries,40.50
25/04/2024,groceries,15.00
01/05/2024,transport,12.25
"""


def write(tmp_path):
    path = tmp_path / "statement.csv"
    path.write_text(CSV, encoding="utf-8")
    return path


def run(*args):
    proc = subprocess.run([sys.executable, "-m", "expenses", *args], cwd=HERE,
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def line_for(output, key):
    lines = [line for line in output.splitlines() if line.split() and line.split()[0] == key]
    assert len(lines) == 1, output
    return lines[0].split()


def test_dates_are_day_first(tmp_path):
    expenses = read_expenses(write(tmp_path))
    assert [e.day for e in expenses] == [
        date(2024, 3, 31), date(2024, 4, 3), date(2024, 4, 25), date(2024, 5, 1)]


def test_monthly_totals(tmp_path):
    totals = monthly_totals(read_expenses(write(tmp_path)))
    assert totals == {"2024-03": Decimal("900.00"), "2024-04": Decimal("55.50"),
                      "2024-05": Decimal("12.25")}


def test_cli_monthly(tmp_path):
    out = run("monthly", str(write(tmp_path)))
    assert line_for(out, "2024-03")[1] == "900.00"
    assert line_for(out, "2024-04")[1] == "55.50"
    assert line_for(out, "2024-05")[1] == "12.25"


def test_cli_since_is_day_first(tmp_path):
    out = run("monthly", str(write(tmp_path)), "--since", "04/04/2024")
    assert "2024-03" not in out
    assert line_for(out, "2024-04")[1] == "15.00"
    assert line_for(out, "2024-05")[1] == "12.25"
