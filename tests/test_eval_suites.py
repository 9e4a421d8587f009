"""Every task of the shipped suites is sound: its hidden check fails on the starting repository
and passes with the reference solution; every tool-choice prompt expects something possible."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from evals.harness.suites import RepoTask, load_suite, suite_names
from evals.harness.workspace import overlay, prepare, run_check
from gemma_code.tools import default_tools

REPO_TASKS = [task for name in suite_names() for task in load_suite(name) if isinstance(task, RepoTask)]
TOOLS = {tool.name: tool for tool in default_tools()}


def test_the_suites_are_as_large_as_promised():
    sizes = {name: len(load_suite(name)) for name in suite_names()}
    assert sizes["edit"] >= 20 and sizes["tools"] >= 50 and sizes["screenshot"] >= 6
    edit = load_suite("edit")
    assert {task.difficulty for task in edit} == {"easy", "medium", "hard"}
    assert all(task.image for task in load_suite("screenshot"))


@pytest.mark.parametrize("task", REPO_TASKS, ids=lambda t: f"{t.suite}/{t.id}")
def test_the_check_fails_as_given_and_passes_with_the_solution(task: RepoTask, tmp_path: Path):
    assert task.solution.is_dir() and task.hidden.is_dir()
    hidden = {p.relative_to(task.hidden) for p in task.hidden.rglob("*") if p.is_file()}
    assert not any((task.repo / name).exists() for name in hidden), "hidden files must be new"
    work = prepare(task, tmp_path / "work")
    before = run_check(task, work, tmp_path / "check")
    assert not before.passed, f"the check passes before any change:\n{before.output}"
    overlay(task.solution, work)
    after = run_check(task, work, tmp_path / "check")
    assert after.passed, after.output
    assert not any((work / name).exists() for name in hidden)
    shutil.rmtree(work)


def test_every_tool_prompt_expects_a_possible_call():
    tasks = load_suite("tools")
    repo = tasks[0].repo
    for task in tasks:
        for expect in task.expect:
            tool = TOOLS[expect.tool]  # a KeyError names an unknown tool
            fields = tool.Args.model_fields
            assert set(expect.args) | set(expect.match) <= set(fields), (task.id, expect)
            path = expect.args.get("path")
            if path and expect.tool in ("read_file", "edit_file", "view_image", "list_files"):
                assert (repo / path).exists(), (task.id, path)
            if expect.tool == "edit_file" and "old" in expect.args:
                assert expect.args["old"] in (repo / expect.args["path"]).read_text(), task.id
