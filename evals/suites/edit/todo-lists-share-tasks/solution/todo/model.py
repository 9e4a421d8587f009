from dataclasses import dataclass


@dataclass
class Task:
    text: str
    done: bool = False


class TodoList:
    def __init__(self, title, items=None):
        self.title = title
        self.items = list(items) if items is not None else []

    def add(self, text):
        task = Task(text)
        self.items.append(task)
        return task

    def complete(self, text):
        for task in self.items:
            if task.text == text:
                task.done = True
                return task
        raise KeyError(text)

    def pending(self):
        return [task for task in self.items if not task.done]

    def render(self):
        lines = [f"# {self.title}"]
        for task in self.items:
            mark = "x" if task.done else " "
            lines.append(f"[{mark}] {task.text}")
        return "\n".join(lines)
