import argparse
import os
import sys

from .runner import run_target
from .tasks import TaskError, load_tasks


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m taskrun")
    parser.add_argument("target", help="task to run")
    parser.add_argument("-f", "--file", default="tasks.toml", help="task file (default: tasks.toml)")
    parser.add_argument("-n", "--dry-run", action="store_true", help="print the commands only")
    args = parser.parse_args(argv)
    try:
        tasks = load_tasks(args.file)
        return run_target(tasks, args.target, dry_run=args.dry_run,
                          cwd=os.path.dirname(os.path.abspath(args.file)))
    except TaskError as exc:
        print(f"taskrun: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
