from .tasks import TaskError


def execution_order(tasks, target):
    """Names of the tasks to run for `target`, dependencies first."""
    if target not in tasks:
        raise TaskError(f"unknown task: {target}")
    order = []
    for dep in tasks[target]["deps"]:
        order.extend(execution_order(tasks, dep))
    order.append(target)
    return order
