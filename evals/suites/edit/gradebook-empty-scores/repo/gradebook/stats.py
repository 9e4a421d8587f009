"""Statistics helpers for the grade report."""


def average(scores):
    """Return the mean of a list of scores."""
    return sum(scores) / len(scores)


def letter(avg):
    """Map an average to a letter grade."""
    if avg >= 90:
        return "A"
    if avg >= 80:
        return "B"
    if avg >= 70:
        return "C"
    if avg >= 60:
        return "D"
    return "F"


def report_lines(students):
    """students: dict of name -> list of scores. Returns the report, one line per student."""
    lines = []
    for name in sorted(students):
        avg = average(students[name])
        lines.append(f"{name:<12} {avg:6.1f}  {letter(avg)}")
    return lines
