"""Per-student and per-assignment averages."""

ASSIGNMENTS = ["hw1", "hw2", "hw3"]


def student_average(student):
    # a missing submission counts as zero
    return sum(student.scores.get(a, 0.0) for a in ASSIGNMENTS) / len(ASSIGNMENTS)


def course_report(students):
    lines = [f"{'Student':<16}{'Average':>8}"]
    for student in sorted(students, key=lambda s: s.name):
        lines.append(f"{student.name:<16}{student_average(student):>8.1f}")
    overall = sum(student_average(s) for s in students) / len(students)
    lines.append(f"{'Course':<16}{overall:>8.1f}")
    return "\n".join(lines)
