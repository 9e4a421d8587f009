"""Reading the learning platform's export into Student records."""

import json
from dataclasses import dataclass, field


@dataclass
class Student:
    name: str
    scores: dict = field(default_factory=dict)  # assignment -> points


def _scores(submissions):
    scores = {}
    for submission in submissions:
        if submission.get("late_waived") is False:
            continue
        scores[submission["assignment"]] = float(submission["points"])
    return scores


def load_students(path):
    with open(path, encoding="utf-8") as f:
        export = json.load(f)
    return [
        Student(entry["name"], _scores(entry["submissions"]))
        for entry in export["students"]
    ]
