from timesheet.parse import parse_line
from timesheet.report import weekly_hours
from timesheet.shifts import find_overlaps


def test_day_shift():
    assert parse_line("2024-05-06 09:00-17:30 alice").hours == 8.5


def test_weekly():
    shifts = [parse_line("2024-05-06 09:00-17:00 alice"), parse_line("2024-05-13 09:00-12:00 alice")]
    assert weekly_hours(shifts) == {("2024-W19", "alice"): 8.0, ("2024-W20", "alice"): 3.0}


def test_overlap():
    shifts = [parse_line("2024-05-06 09:00-17:00 bob"), parse_line("2024-05-06 16:00-20:00 bob"),
              parse_line("2024-05-06 16:00-20:00 carol")]
    assert len(find_overlaps(shifts)) == 1
