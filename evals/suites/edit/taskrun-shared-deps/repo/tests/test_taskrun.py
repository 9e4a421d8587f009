import pytest

from taskrun.graph import execution_order
from taskrun.tasks import TaskError

TASKS = {
    "build": {"run": "true", "deps": []},
    "test": {"run": "true", "deps": ["build"]},
}


def test_dependencies_first():
    assert execution_order(TASKS, "test") == ["build", "test"]


def test_unknown_task():
    with pytest.raises(TaskError):
        execution_order(TASKS, "deploy")
