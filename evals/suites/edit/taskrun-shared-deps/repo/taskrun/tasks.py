import tomllib


class TaskError(Exception):
    """Something is wrong with the task definitions or the request."""


def load_tasks(path):
    """{name: {"run": str, "deps": [str]}} from a tasks.toml file."""
    try:
        with open(path, "rb") as fh:
            raw = tomllib.load(fh)
    except FileNotFoundError:
        raise TaskError(f"no such file: {path}") from None
    tasks = {}
    for name, spec in raw.items():
        if not isinstance(spec.get("run"), str):
            raise TaskError(f"task {name!r} needs a 'run' command")
        deps = spec.get("deps", [])
        for dep in deps:
            if dep not in raw:
                raise TaskError(f"task {name!r} depends on unknown task {dep!r}")
        tasks[name] = {"run": spec["run"], "deps": list(deps)}
    return tasks
