import subprocess
import sys
from pathlib import Path

import pytest

from timesheet.parse import parse_line

HERE = Path(__file__).resolve().parent


@pytest.mark.parametrize("line, hours", [
    ("2024-05-06 22:00-06:00 alice", 8.0),
    ("2024-05-06 18:00-00:00 alice", 6.0),
    ("2024-05-06 23:30-00:15 alice", 0.75),
    ("2024-05-06 20:00-04:30 alice", 8.5),
    ("2024-05-06 09:00-17:30 alice", 8.5),
    ("2024-05-06 00:00-08:00 alice", 8.0),
])
def test_shift_hours(line, hours):
    assert parse_line(line).hours == pytest.approx(hours)


def run(tmp_path, command, text):
    path = tmp_path / "shifts.txt"
    path.write_text(text, encoding="utf-8")
    return subprocess.run([sys.executable, "-m", "timesheet", command, str(path)], cwd=HERE,
                          capture_output=True, text=True, timeout=30)


def weekly(tmp_path, text):
    proc = run(tmp_path, "weekly", text)
    assert proc.returncode == 0, proc.stderr
    result = {}
    for line in proc.stdout.splitlines():
        if line.strip():
            week, worker, hours = line.split()
            result[(week, worker)] = float(hours)
    return result


def test_weekly_with_night_shifts(tmp_path):
    text = ("2024-05-06 22:00-06:00 alice\n"
            "2024-05-07 22:00-06:00 alice\n"
            "2024-05-08 18:00-00:00 bob\n"
            "2024-05-09 09:00-17:00 bob\n")
    assert weekly(tmp_path, text) == {("2024-W19", "alice"): 16.0, ("2024-W19", "bob"): 14.0}


def test_sunday_night_counts_for_the_week_it_starts(tmp_path):
    text = "2024-05-12 22:00-06:00 carol\n2024-05-13 14:00-22:00 carol\n"
    assert weekly(tmp_path, text) == {("2024-W19", "carol"): 8.0, ("2024-W20", "carol"): 8.0}


def test_check_finds_night_shift_overlapping_next_morning(tmp_path):
    proc = run(tmp_path, "check", "2024-05-06 22:00-06:00 dave\n2024-05-07 05:00-13:00 dave\n")
    assert proc.returncode == 1
    assert "dave" in proc.stdout


def test_check_back_to_back_is_fine(tmp_path):
    text = ("2024-05-06 22:00-06:00 erin\n2024-05-07 06:00-14:00 erin\n"
            "2024-05-07 14:00-00:00 erin\n2024-05-08 00:00-06:00 erin\n")
    proc = run(tmp_path, "check", text)
    assert proc.returncode == 0, proc.stdout
    assert proc.stdout.strip() == ""


def test_check_day_shifts_still_work(tmp_path):
    proc = run(tmp_path, "check", "2024-05-06 09:00-17:00 fay\n2024-05-06 16:00-20:00 fay\n")
    assert proc.returncode == 1
    assert "fay" in proc.stdout
