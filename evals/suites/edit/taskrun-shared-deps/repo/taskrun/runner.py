import subprocess
import sys

from .graph import execution_order


def run_target(tasks, target, dry_run=False, cwd=None):
    """Run `target` and its dependencies; returns the exit status of the first failure, or 0."""
    for name in execution_order(tasks, target):
        command = tasks[name]["run"]
        print(f"[{name}] {command}", flush=True)
        if dry_run:
            continue
        result = subprocess.run(command, shell=True, cwd=cwd)
        if result.returncode != 0:
            print(f"taskrun: task {name!r} failed with status {result.returncode}", file=sys.stderr)
            return result.returncode
    return 0
