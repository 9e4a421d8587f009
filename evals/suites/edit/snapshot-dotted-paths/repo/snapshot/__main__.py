import os
import sys

from .backup import make_backup


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        print("usage: python -m snapshot FILE...", file=sys.stderr)
        return 2
    for path in argv:
        print(make_backup(os.path.expanduser(path)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
