import sys

from .results import build_table, read_results
from .standings import format_table


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m league RESULTS.csv", file=sys.stderr)
        return 2
    table = build_table(read_results(argv[0]))
    print(format_table(table.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
