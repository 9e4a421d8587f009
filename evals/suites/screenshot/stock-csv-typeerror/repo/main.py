"""Units on hand per warehouse location, from the nightly stock count."""

from warehouse.loader import read_rows
from warehouse.totals import units_by_location


def main():
    rows = read_rows("data/stock_count.csv")
    totals = units_by_location(rows)
    print("Units on hand per location")
    for location, units in totals.items():
        print(f"  {location:<10} {units:>5}")
    print(f"  {'all':<10} {sum(totals.values()):>5}")


if __name__ == "__main__":
    main()
