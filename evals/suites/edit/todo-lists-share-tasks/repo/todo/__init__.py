from .model import Task, TodoList

__all__ = ["Task", "TodoList"]
