"""Run a command with a time limit, its output to files, and its whole process group ended on timeout."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

GRACE_SECONDS = 5.0


@dataclass(frozen=True)
class Finished:
    exit_code: int | None  # None when it was stopped
    timed_out: bool
    seconds: float


def run_logged(command: list[str], cwd: Path, env: dict[str, str], timeout: float,
               stdout: Path, stderr: Path) -> Finished:
    """Run `command` with no standard input; after `timeout` seconds its process group is
    sent SIGTERM, then SIGKILL if it is still there after a grace period."""
    started = time.monotonic()
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                   stdout=out, stderr=err, start_new_session=True)
        try:
            code = process.wait(timeout=timeout)
            return Finished(code, False, time.monotonic() - started)
        except subprocess.TimeoutExpired:
            stop_group(process)
            return Finished(None, True, time.monotonic() - started)
        except BaseException:
            stop_group(process)
            raise


def stop_group(process: subprocess.Popen) -> None:
    """End the process group `process` leads (it was started in a new session)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=GRACE_SECONDS)
            return
        except subprocess.TimeoutExpired:
            continue
