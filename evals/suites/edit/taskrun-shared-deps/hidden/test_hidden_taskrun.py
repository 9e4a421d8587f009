import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def write_tasks(tmp_path, text):
    path = tmp_path / "tasks.toml"
    path.write_text(text, encoding="utf-8")
    return path


def run(tasks_file, target, *extra):
    return subprocess.run([sys.executable, "-m", "taskrun", "-f", str(tasks_file), *extra, target],
                          cwd=HERE, capture_output=True, text=True, timeout=30)


def task(name, deps=()):
    deps_line = f"deps = {list(deps)!r}\n".replace("'", '"') if deps else ""
    return f'[{name}]\n{deps_line}run = "echo {name} >> ran.log"\n\n'


def ran(tmp_path):
    return (tmp_path / "ran.log").read_text().split()


def assert_valid_order(order, graph):
    for name, deps in graph.items():
        if name in order:
            for dep in deps:
                assert order.index(dep) < order.index(name), (dep, name, order)


def test_shared_dependency_runs_once(tmp_path):
    graph = {"build": [], "test": ["build"], "lint": ["build"], "ci": ["test", "lint"]}
    path = write_tasks(tmp_path, "".join(task(n, d) for n, d in graph.items()))
    proc = run(path, "ci")
    assert proc.returncode == 0, proc.stderr
    order = ran(tmp_path)
    assert sorted(order) == ["build", "ci", "lint", "test"]
    assert_valid_order(order, graph)


def test_deeper_graph(tmp_path):
    graph = {
        "fetch": [], "gen": ["fetch"], "compile": ["gen", "fetch"], "docs": ["gen"],
        "package": ["compile", "docs"], "release": ["package", "docs", "fetch"], "unused": [],
    }
    path = write_tasks(tmp_path, "".join(task(n, d) for n, d in graph.items()))
    proc = run(path, "release")
    assert proc.returncode == 0, proc.stderr
    order = ran(tmp_path)
    assert sorted(order) == ["compile", "docs", "fetch", "gen", "package", "release"]
    assert_valid_order(order, graph)


def test_dry_run_lists_each_command_once(tmp_path):
    graph = {"build": [], "test": ["build"], "lint": ["build"], "ci": ["test", "lint"]}
    path = write_tasks(tmp_path, "".join(task(n, d) for n, d in graph.items()))
    proc = run(path, "ci", "-n")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("echo build") == 1
    assert not (tmp_path / "ran.log").exists()


def test_simple_chain_still_works(tmp_path):
    path = write_tasks(tmp_path, task("build") + task("test", ["build"]))
    proc = run(path, "test")
    assert proc.returncode == 0, proc.stderr
    assert ran(tmp_path) == ["build", "test"]


def check_cycle_error(proc):
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert "RecursionError" not in proc.stderr
    assert "cycl" in (proc.stderr + proc.stdout).lower()


def test_cycle_is_reported(tmp_path):
    path = write_tasks(tmp_path, task("a", ["b"]) + task("b", ["c"]) + task("c", ["a"]) + task("d", ["a"]))
    proc = run(path, "d")
    check_cycle_error(proc)


def test_self_dependency_is_reported(tmp_path):
    path = write_tasks(tmp_path, task("loop", ["loop"]))
    check_cycle_error(run(path, "loop"))


def test_unknown_task_still_reported(tmp_path):
    path = write_tasks(tmp_path, task("build"))
    proc = run(path, "deploy")
    assert proc.returncode == 1
    assert "deploy" in proc.stderr
    assert "Traceback" not in proc.stderr
