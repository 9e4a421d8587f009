import json
import subprocess
import sys
from pathlib import Path

from gradebook.stats import average, report_lines

HERE = Path(__file__).resolve().parent


def test_average_still_works():
    assert average([80, 90, 100]) == 90


def test_report_with_student_without_scores():
    lines = report_lines({"Dana": [], "Eli": [70, 80]})
    assert len(lines) == 2
    dana = [line for line in lines if line.startswith("Dana")][0]
    assert "0.0" in dana
    eli = [line for line in lines if line.startswith("Eli")][0]
    assert "75.0" in eli


def test_cli_does_not_crash(tmp_path):
    grades = tmp_path / "grades.json"
    grades.write_text(json.dumps({"Zoe": [], "Yan": [100]}), encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "gradebook", str(grades)],
        cwd=HERE, capture_output=True, text=True, timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Zoe" in proc.stdout and "Yan" in proc.stdout
    assert "0.0" in proc.stdout
