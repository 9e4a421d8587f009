"""Tickets opened per week, and how many of those are still open."""

import csv
from collections import defaultdict

from .dates import parse_date, week_start


def load_tickets(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def weekly_counts(tickets):
    counts = defaultdict(lambda: [0, 0])  # week -> [opened, still open]
    for ticket in tickets:
        week = week_start(parse_date(ticket["opened"]))
        counts[week][0] += 1
        if ticket["status"] != "closed":
            counts[week][1] += 1
    return dict(sorted(counts.items()))


def weekly_summary(path):
    lines = ["Week of       Opened  Still open"]
    for week, (opened, still_open) in weekly_counts(load_tickets(path)).items():
        lines.append(f"{week.isoformat()}  {opened:>6}  {still_open:>10}")
    return "\n".join(lines)
