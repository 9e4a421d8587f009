"""April's expenses per category, as a table."""

from budget.expenses import by_category, load
from budget.table import render_table


def main():
    totals = by_category(load("data/april.csv"))
    rows = [[category, str(count), f"{amount:.2f}"] for category, (count, amount) in totals.items()]
    print(render_table(["Category", "Items", "Amount"], rows, align="<>>"))


if __name__ == "__main__":
    main()
