import subprocess
import sys
from datetime import date

from tickets.dates import parse_date, week_start
from tickets.report import weekly_counts, weekly_summary

EXPECTED = """Week of       Opened  Still open
2024-03-04       3           1
2024-03-11       4           2
2024-03-18       2           2"""


def test_parses_export_dates():
    assert parse_date("2024-03-04") == date(2024, 3, 4)
    assert parse_date(" 2024-12-31 ") == date(2024, 12, 31)


def test_week_start_unchanged():
    assert week_start(date(2024, 3, 7)) == date(2024, 3, 4)


def test_weekly_counts_from_other_export():
    tickets = [
        {"opened": "2023-01-02", "status": "closed"},
        {"opened": "2023-01-08", "status": "open"},
        {"opened": "2023-01-09", "status": "open"},
    ]
    assert weekly_counts(tickets) == {date(2023, 1, 2): [2, 1], date(2023, 1, 9): [1, 1]}


def test_summary():
    assert weekly_summary("data/tickets.csv") == EXPECTED


def test_main_runs():
    out = subprocess.run([sys.executable, "main.py"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == EXPECTED
