"""Give repository tasks to an agent, one fresh repository each, and grade them with the hidden check."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from .agents import Agent
from .processes import run_logged
from .results import RepoResult, Try
from .suites import RepoTask
from .workspace import changed_files, prepare, run_check, with_project_python

DEFAULT_TIMEOUT = 600.0
RETRY_NOTE = "(I tried your change: the problem is still there.)"


def retry_prompt(task: RepoTask) -> str:
    """What a person says when the first attempt did not work; it reveals nothing of the check."""
    return f"{task.prompt}\n\n{RETRY_NOTE}"


def run_repo_task(task: RepoTask, agent: Agent, model: str, *, tries: int, timeout: float | None,
                  logs: Path, on_try: Callable[[int, Try], None] = lambda n, t: None) -> RepoResult:
    """Up to `tries` attempts in one repository (each try sees the work of the last), stopping
    at the first that passes. Agent output is kept under `logs`."""
    result = RepoResult(suite=task.suite, task=task.id, difficulty=task.difficulty,
                        agent=agent.name, model=model, passed=False, first_try=False)
    if task.image and not agent.sees_images:
        result.skipped = f"{agent.name} cannot be given an image"
        return result
    limit = task.timeout or timeout or DEFAULT_TIMEOUT
    logs.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f"evals-{task.id}-"))
    try:
        work = prepare(task, scratch / "work")
        for number in range(1, tries + 1):
            prompt = task.prompt if number == 1 else retry_prompt(task)
            out, err = logs / f"try{number}.out", logs / f"try{number}.err"
            finished = run_logged(agent.command(prompt, work, task.image_path), work,
                                  with_project_python(agent.environment(scratch)), limit, out, err)
            check = run_check(task, work, scratch / "check")
            metrics = agent.after_try(work, logs / f"try{number}") or agent.metrics(out, err)
            attempt = Try(seconds=round(finished.seconds, 2), exit_code=finished.exit_code,
                          timed_out=finished.timed_out, metrics=metrics,
                          passed=check.passed, changed=changed_files(work),
                          check_output=check.output, log=str(out))
            if finished.timed_out:
                attempt.metrics.end_reason = "timeout"
                agent.after_timeout()
            result.tries.append(attempt)
            on_try(number, attempt)
            if check.passed:
                result.passed, result.first_try = True, number == 1
                break
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return result
