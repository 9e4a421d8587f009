import argparse
import sys

from .parse import parse_date, read_expenses
from .report import category_totals, format_totals, monthly_totals


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m expenses")
    sub = parser.add_subparsers(dest="command", required=True)
    monthly = sub.add_parser("monthly", help="total per month")
    monthly.add_argument("file")
    monthly.add_argument("--since", type=parse_date, help="only count expenses from this date on")
    categories = sub.add_parser("categories", help="total per category")
    categories.add_argument("file")
    args = parser.parse_args(argv)

    expenses = read_expenses(args.file)
    if args.command == "monthly":
        totals = monthly_totals(expenses, since=args.since)
    else:
        totals = category_totals(expenses)
    for line in format_totals(totals):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
