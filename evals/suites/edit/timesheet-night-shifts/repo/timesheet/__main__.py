import sys

from .parse import read_shifts
from .report import format_weekly, weekly_hours
from .shifts import find_overlaps


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2 or argv[0] not in ("weekly", "check"):
        print("usage: python -m timesheet {weekly,check} FILE", file=sys.stderr)
        return 2
    shifts = read_shifts(argv[1])
    if argv[0] == "weekly":
        for line in format_weekly(weekly_hours(shifts)):
            print(line)
        return 0
    overlaps = find_overlaps(shifts)
    for a, b in overlaps:
        print(f"{a.worker}: {a.start:%Y-%m-%d %H:%M}-{a.end:%H:%M} overlaps "
              f"{b.start:%Y-%m-%d %H:%M}-{b.end:%H:%M}")
    return 1 if overlaps else 0


if __name__ == "__main__":
    sys.exit(main())
