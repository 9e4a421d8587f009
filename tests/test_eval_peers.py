"""The peer agents (aider, mini-swe-agent) run end to end by the harness, as `python -m evals
run --agent ...` runs them, on an OpenAI-compatible server whose model is the scripted backend.

These catch a peer that is wired wrong (a config that makes every reply a format error, an
option a new release dropped), which a real small model would hide among its own failures.
The peers are installed from PyPI by the harness's own set-up the first time.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.harness.peers import SERVED_NAME, Aider, MiniSweAgent, installed_version, pinned_version, setup
from evals.harness.report import failure_cause
from evals.harness.run import run_repo_task
from evals.harness.suites import load_suite
from gemma_code.backends.scripted import ScriptedBackend
from tests.openai_stub import ScriptedChatServer

HIDDEN_TEST = "def test_add():\n    from calc import add\n    assert add(2, 3) == 5\n"
PROMPT = "add(2, 3) gives -1 in calc.py"


@pytest.fixture(scope="module")
def installed():
    """Installs the pinned release of a peer into its own virtual environment unless it is there."""
    def install(name: str) -> None:
        if installed_version(name) != pinned_version(name):
            setup(name, log=print)
        assert installed_version(name) == pinned_version(name)
    return install


@pytest.fixture
def task(tmp_path: Path):
    root = tmp_path / "suites" / "demo" / "fix-add"
    files = {
        "task.toml": f'prompt = "{PROMPT}"\ndifficulty = "easy"\n'
                     'check = "python -m pytest -q -p no:cacheprovider test_hidden_calc.py"\n',
        "repo/calc.py": "def add(a, b):\n    return a - b\n",
        "hidden/test_hidden_calc.py": HIDDEN_TEST,
        "solution/calc.py": "def add(a, b):\n    return a + b\n",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    found, = load_suite("demo", root=tmp_path / "suites")
    return found


def _conversation(request: dict) -> str:
    return json.dumps(request["messages"])


def _check_requests(stub: ScriptedChatServer) -> None:
    """Every request named the served model, carried the output cap and the person's prompt,
    and none carried the hidden check."""
    assert stub.requests
    for request in stub.requests:
        assert request["model"] == SERVED_NAME
        assert request["max_tokens"] == 2048
        assert PROMPT in _conversation(request)
        assert "test_hidden_calc" not in _conversation(request)
        assert "assert add(2, 3) == 5" not in _conversation(request)


def test_mini_swe_agent_runs_commands_and_submits(installed, task, tmp_path):
    installed("mini-swe-agent")
    command = "```mswea_bash_command\n{}\n```"
    backend = ScriptedBackend.from_turns([
        {"text": "THOUGHT: read the code first.\n\n" + command.format("cat calc.py")},
        {"text": "THOUGHT: I forgot the code block."},  # mini answers with a format error
        {"text": "THOUGHT: it subtracts.\n\n" + command.format("sed -i 's/a - b/a + b/' calc.py")},
        {"text": "THOUGHT: done.\n\n" + command.format("echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT")},
    ])
    with ScriptedChatServer(backend, SERVED_NAME) as stub:
        agent = MiniSweAgent(server=stub, context_size=32768, max_steps=10)
        result = run_repo_task(task, agent, "scripted", tries=2, timeout=120, logs=tmp_path / "logs")

    attempt, = result.tries
    assert result.passed and result.first_try, attempt.check_output
    assert attempt.changed == ["calc.py"]
    assert (attempt.metrics.steps, attempt.metrics.malformed_calls) == (4, 1)
    assert attempt.metrics.end_reason == "Submitted"
    assert attempt.metrics.prompt_tokens > 0 and attempt.metrics.completion_tokens > 0
    assert (tmp_path / "logs" / "try1.traj.json").exists()  # the trajectory is kept with the logs
    _check_requests(stub)
    assert all(r["temperature"] == 0 for r in stub.requests)
    # the command ran in the task's repository, and mini showed the model its output
    assert "return a - b" in _conversation(stub.requests[1])


def test_mini_swe_agent_stopped_by_the_step_limit_is_a_step_limit_failure(installed, task, tmp_path):
    installed("mini-swe-agent")
    look = "THOUGHT: look around.\n\n```mswea_bash_command\nls\n```"
    backend = ScriptedBackend.from_turns([{"text": look}] * 3)
    with ScriptedChatServer(backend, SERVED_NAME) as stub:
        agent = MiniSweAgent(server=stub, context_size=32768, max_steps=2)
        result = run_repo_task(task, agent, "scripted", tries=1, timeout=120, logs=tmp_path / "logs")

    attempt, = result.tries
    assert not result.passed and attempt.changed == []
    assert attempt.metrics.end_reason == "LimitsExceeded" and attempt.metrics.steps == 2
    assert attempt.metrics.repeated_calls == 1  # the second `ls`
    assert failure_cause(result) == "step limit"
    assert len(stub.requests) == 2


def test_aider_edits_the_file_the_model_rewrites(installed, task, tmp_path):
    installed("aider")
    whole_file = "calc.py\n```python\ndef add(a, b):\n    return a + b\n```\n"
    backend = ScriptedBackend.from_turns([{"text": "The sign is wrong.\n\n" + whole_file}] * 3)
    with ScriptedChatServer(backend, SERVED_NAME) as stub:
        agent = Aider(server=stub, context_size=32768)
        result = run_repo_task(task, agent, "scripted", tries=2, timeout=120, logs=tmp_path / "logs")

    attempt, = result.tries
    assert result.passed and result.first_try, attempt.check_output
    assert "calc.py" in attempt.changed
    # aider reports tokens for its edit request, not for the commit message it then asks for
    assert (attempt.metrics.steps, len(stub.requests)) == (1, 2)
    assert "commit message" in _conversation(stub.requests[1])
    assert attempt.metrics.prompt_tokens > 0
    _check_requests(stub)
