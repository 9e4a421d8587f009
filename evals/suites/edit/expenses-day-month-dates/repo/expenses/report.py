from collections import defaultdict
from decimal import Decimal


def monthly_totals(expenses, since=None):
    """{'YYYY-MM': total}, oldest month first."""
    totals = defaultdict(Decimal)
    for exp in expenses:
        if since is not None and exp.day < since:
            continue
        totals[exp.day.strftime("%Y-%m")] += exp.amount
    return dict(sorted(totals.items()))


def category_totals(expenses):
    """{category: total}, biggest first."""
    totals = defaultdict(Decimal)
    for exp in expenses:
        totals[exp.category] += exp.amount
    return dict(sorted(totals.items(), key=lambda kv: kv[1], reverse=True))


def format_totals(totals):
    return [f"{key:<12} {value:>10.2f}" for key, value in totals.items()]
