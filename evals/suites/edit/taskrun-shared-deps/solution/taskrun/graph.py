from .tasks import TaskError


def execution_order(tasks, target):
    """Names of the tasks to run for `target`, dependencies first, each task once."""
    order = []
    done = set()
    path = []

    def visit(name):
        if name in done:
            return
        if name in path:
            cycle = path[path.index(name):] + [name]
            raise TaskError("dependency cycle: " + " -> ".join(cycle))
        if name not in tasks:
            raise TaskError(f"unknown task: {name}")
        path.append(name)
        for dep in tasks[name]["deps"]:
            visit(dep)
        path.pop()
        done.add(name)
        order.append(name)

    visit(target)
    return order
