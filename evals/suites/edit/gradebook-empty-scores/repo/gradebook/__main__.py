import json
import sys

from .stats import report_lines


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m gradebook GRADES.json", file=sys.stderr)
        return 2
    with open(argv[0], encoding="utf-8") as fh:
        students = json.load(fh)
    for line in report_lines(students):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
