import json
import subprocess
import sys

from gradebook.roster import load_students
from gradebook.stats import course_report

EXPECTED = """Student          Average
Amara Okafor         9.2
Jonas Berg           5.0
Lucia Ferreira       6.5
Course               6.9"""


def test_scores_from_export():
    students = {s.name: s.scores for s in load_students("exports/lms_export.json")}
    assert students["Amara Okafor"] == {"hw1": 9.0, "hw2": 8.5, "hw3": 10.0}
    assert students["Jonas Berg"] == {"hw1": 7.0, "hw3": 8.0}
    assert students["Lucia Ferreira"] == {"hw1": 10.0, "hw3": 9.5}


def test_another_export(tmp_path):
    export = {"course": "X", "students": [
        {"id": 1, "name": "Kim", "submissions": [{"assignment": "hw2", "score": 4}]},
    ]}
    path = tmp_path / "export.json"
    path.write_text(json.dumps(export), encoding="utf-8")
    [kim] = load_students(str(path))
    assert kim.name == "Kim" and kim.scores == {"hw2": 4.0}


def test_report():
    assert course_report(load_students("exports/lms_export.json")) == EXPECTED


def test_main_runs():
    out = subprocess.run([sys.executable, "main.py"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == EXPECTED
