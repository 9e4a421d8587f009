import subprocess
import sys
from pathlib import Path

import pytest

from durations import parse_duration

HERE = Path(__file__).resolve().parent


@pytest.mark.parametrize("text, seconds", [
    ("1:30:00", 5400),
    ("0:00:45", 45),
    ("12:00:30", 43230),
    ("4:05", 245),
    ("0:45", 45),
    (" 1:02:03 ", 3723),
])
def test_clock_style(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text, seconds", [
    ("1h30m", 5400), ("45s", 45), ("2h", 7200), ("1h2s", 3602), ("10m", 600),
])
def test_unit_style_still_works(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "abc", "1:2:3:4", "1:", ":30", "1::30", "a:30", "1h:30"])
def test_invalid(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def run(*args):
    return subprocess.run([sys.executable, "-m", "durations", *args], cwd=HERE,
                          capture_output=True, text=True, timeout=30)


def test_cli_sum_mixed():
    proc = run("sum", "1:30:00", "30m", "0:30")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "2h 30s"


def test_cli_seconds():
    proc = run("seconds", "4:05")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "245"
