from collections import defaultdict


def week_of(moment):
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


def weekly_hours(shifts):
    """{(week, worker): hours}, sorted by week then worker."""
    totals = defaultdict(float)
    for shift in shifts:
        totals[(week_of(shift.start), shift.worker)] += shift.hours
    return dict(sorted(totals.items()))


def format_weekly(totals):
    return [f"{week}  {worker:<10} {hours:6.2f}" for (week, worker), hours in totals.items()]
