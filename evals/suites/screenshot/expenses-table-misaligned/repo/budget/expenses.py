import csv


def load(path):
    with open(path, newline="", encoding="utf-8") as f:
        return [(row["category"], float(row["amount"])) for row in csv.DictReader(f)]


def by_category(expenses):
    """category -> (number of expenses, total), biggest total first."""
    totals = {}
    for category, amount in expenses:
        count, total = totals.get(category, (0, 0.0))
        totals[category] = (count + 1, round(total + amount, 2))
    return dict(sorted(totals.items(), key=lambda item: -item[1][1]))
