import sys

from .fmt import format_duration
from .parse import parse_duration


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) < 2 or argv[0] not in ("sum", "seconds"):
        print("usage: python -m durations {sum,seconds} DURATION...", file=sys.stderr)
        return 2
    try:
        values = [parse_duration(arg) for arg in argv[1:]]
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 1
    total = sum(values)
    print(format_duration(total) if argv[0] == "sum" else total)
    return 0


if __name__ == "__main__":
    sys.exit(main())
